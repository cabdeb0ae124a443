"""The TAXII index tables (``taxii_shares``, ``taxii_objects``, ``taxii_status``): every
statement that writes them for ``vigil.taxii.index``, and every read of a collection for
``vigil.taxii.view``. Who may read a share is not kept here: a collection reads the
member's inbox rows and its own shares (``own_pos``); the access gate decides on each
share found."""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vigil.model import Envelope
from vigil.storage import taxii_filters, taxii_runs
from vigil.storage.base import Sql, envelope_from_row, take_positions

SHARE_COLUMNS = "seq, header, signature, payload, wraps"
CHUNK = 400  # rows per multi-row statement (7 parameters each at most)


def insert_status(sql: Sql, row: tuple[str, str, bytes, str]) -> None:
    """A TAXII status row ``(id, member, body, created)``; the body (JSON) is stored
    compressed: the ids and versions of a large envelope's objects take about a fifth."""
    sid, member, body, created = row
    sql.execute("INSERT INTO taxii_status(id, member_id, body, created) VALUES(?,?,?,?)",
                (sid, member, zlib.compress(body), created))


def status(sql: Sql, status_id: str, member: str) -> bytes | None:
    """The body of a member's TAXII status (rows stored before compression: as stored)."""
    row = sql.execute("SELECT body FROM taxii_status WHERE id = ? AND member_id = ?",
                      (status_id, member)).fetchone()
    if row is None:
        return None
    body = bytes(row[0])
    return body if body.startswith(b"{") else zlib.decompress(body)


def insert_share(sql: Sql, seq: int, share_id: str, originator: str, channel: str,
                 sealed: bool, added: str, own: bool) -> bool:
    """Index a share; False if it was indexed already (a concurrent backfill). With
    ``own`` (its originator is not one of its recipients), the share takes the
    originator's next inbox position (``take_positions``; no inbox row holds it), its
    place in the originator's collections. The caller holds the write-order lock."""
    if sql.execute("SELECT 1 FROM taxii_shares WHERE share_seq=?", (seq,)).fetchone():
        return False
    own_pos = take_positions(sql, "inbox", {originator: 1})[originator] if own else None
    cur = sql.execute(
        "INSERT INTO taxii_shares(share_seq, share_id, originator, channel, sealed, added, "
        "own_pos) VALUES(?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        (seq, share_id, originator, channel, sealed, added, own_pos))
    return bool(cur.rowcount)


def insert_shares(sql: Sql, rows: Sequence[tuple[int, str, str, str, bool, str]],
                  own: Sequence[bool]) -> set[int]:
    """Index several shares ``(seq, id, originator, channel, sealed, added)`` in order,
    in one statement per ``CHUNK``; ``own[i]``: as ``insert_share``'s ``own`` (the
    positions of all taken at once). The seqs indexed now (not by a concurrent
    backfill). The caller holds the write-order lock."""
    known = {int(r[0]) for start in range(0, len(rows), CHUNK) for r in sql.execute(
        "SELECT share_seq FROM taxii_shares WHERE share_seq IN ("
        + ",".join("?" * len(rows[start:start + CHUNK])) + ")",
        [row[0] for row in rows[start:start + CHUNK]]).fetchall()}
    counts: dict[str, int] = {}
    for row, mine in zip(rows, own, strict=True):
        if mine and row[0] not in known:
            counts[row[2]] = counts.get(row[2], 0) + 1
    pos = take_positions(sql, "inbox", counts) if counts else {}
    full: list[tuple[int, str, str, str, bool, str, int | None]] = []
    for row, mine in zip(rows, own, strict=True):
        at = None
        if mine and row[0] not in known:
            at = pos[row[2]]
            pos[row[2]] += 1
        full.append((*row, at))
    done: set[int] = set()
    for start in range(0, len(full), CHUNK):
        part = full[start:start + CHUNK]
        got = sql.execute(
            "INSERT INTO taxii_shares(share_seq, share_id, originator, channel, sealed, "
            "added, own_pos) VALUES " + ", ".join(["(?,?,?,?,?,?,?)"] * len(part))
            + " ON CONFLICT DO NOTHING RETURNING share_seq",
            [v for row in part for v in row]).fetchall()
        done.update(int(r[0]) for r in got)
    return done


def insert_objects(sql: Sql, rows: Iterable[Sequence[Any]]) -> None:
    """Object rows ``(share_seq, pos, object_id, type, version, spec_version, obj,
    body_at, body_len)`` (``obj`` empty when the body is the payload's slice at
    ``body_at``), and their ids as one run of the id index (``taxii_runs``)."""
    todo = list(rows)
    sql.executemany("INSERT INTO taxii_objects(share_seq, pos, object_id, type, version, "
                    "spec_version, obj, body_at, body_len) VALUES(?,?,?,?,?,?,?,?,?)", todo)
    taxii_runs.add(sql, [(str(r[2]), int(r[0]), int(r[1])) for r in todo])


def share_seqs(sql: Sql, share_ids: Sequence[str]) -> dict[str, int]:
    """The seqs of stored shares, by id (one statement per ``CHUNK``)."""
    out: dict[str, int] = {}
    for start in range(0, len(share_ids), CHUNK):
        part = list(share_ids[start:start + CHUNK])
        out.update((str(i), int(s)) for i, s in sql.execute(
            "SELECT id, seq FROM shares WHERE id IN (" + ",".join("?" * len(part)) + ")",
            part).fetchall())
    return out


def added_many(sql: Sql, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """When each share reached a member's inbox, for (member, share id) pairs; by share
    id (one statement per ``CHUNK``)."""
    want = set(pairs)
    out: dict[str, str] = {}
    ids = sorted({sid for _, sid in pairs})
    for start in range(0, len(ids), CHUNK):
        part = ids[start:start + CHUNK]
        for m, sid, added in sql.execute(
                "SELECT member_id, share_id, added FROM inbox WHERE share_id IN ("
                + ",".join("?" * len(part)) + ")", part).fetchall():
            if (str(m), str(sid)) in want:
                out[str(sid)] = str(added)
    return out


def share_seq(sql: Sql, share_id: str) -> int:
    """The seq of a stored share."""
    return int(sql.execute("SELECT seq FROM shares WHERE id=?", (share_id,)).fetchone()[0])


def added_for(sql: Sql, member: str, share_id: str) -> str | None:
    """When a share reached a member's inbox."""
    row = sql.execute("SELECT added FROM inbox WHERE member_id=? AND share_id=?",
                      (member, share_id)).fetchone()
    return None if row is None else str(row[0])


def drop_objects(sql: Sql, share_id: str) -> None:
    """Remove the indexed objects of a share (its payload is gone)."""
    row = sql.execute("SELECT share_seq FROM taxii_shares WHERE share_id=?",
                      (share_id,)).fetchone()
    if row is not None:
        taxii_runs.drop(sql, int(row[0]))
        sql.execute("DELETE FROM taxii_objects WHERE share_seq=?", (row[0],))


def unindexed(sql: Sql, limit: int) -> list[Any]:
    """Up to ``limit`` stored shares not yet indexed, oldest first (``SHARE_COLUMNS``; a
    payload stored apart read from its file)."""
    return [(seq, header, signature, sql.payload(payload, ref), wraps)
            for seq, header, signature, payload, wraps, ref in sql.execute(
                "SELECT s.seq, s.header, s.signature, s.payload, s.wraps, s.payload_ref "
                "FROM shares s LEFT JOIN taxii_shares t ON t.share_seq = s.seq "
                "WHERE t.share_seq IS NULL ORDER BY s.seq LIMIT ?", (limit,)).fetchall()]


def payloads(sql: Sql, seqs: Sequence[int]) -> dict[int, bytes]:
    """The stored payloads of shares by seq (a payload stored apart read from its file;
    a share whose payload is gone is left out)."""
    out: dict[int, bytes] = {}
    for i in range(0, len(seqs), 500):
        chunk = list(seqs[i:i + 500])
        for seq, payload, ref in sql.execute(
                f"SELECT seq, payload, payload_ref FROM shares WHERE seq IN "
                f"({','.join('?' * len(chunk))})", chunk).fetchall():
            got = sql.payload(payload, ref)
            if got is not None:
                out[int(seq)] = got
    return out


# -- reading collections (vigil.taxii.view) ----------------------------------------------

def marks(n: int) -> str:
    return ",".join("?" * n)


_SELECT = ("SELECT {pos}, o.pos, t.share_seq, o.object_id, o.type, o.version, "
           "o.spec_version, o.obj, {added}, o.body_at, o.body_len ")


@dataclass(frozen=True, slots=True)
class _Side:
    """One of the two kinds of shares a member may read, as SQL: its position and the
    time it was added for the member (``{pos}``, ``{added}``), the condition naming the
    member (one parameter), and the FROM clauses of its shares, of their objects, and
    of their objects found from ids (SQLite keeps CROSS JOIN's order)."""

    pos: str
    added: str
    member: str
    shares: str
    objects: str
    by_id: str

    def sql(self, text: str) -> str:
        return text.replace("{pos}", self.pos).replace("{added}", self.added)


# objects found from ids: the entries of the id index (``taxii_runs``) found by probing
# the (run, id) pairs the runs' filters leave (``{probe}``, SQLite) or every run
# (PostgreSQL, with the query's condition on ``x.object_id``) name their rows
_BY_ID = "{runs} AND o.share_seq = x.share_seq AND o.pos = x.pos "
# the shares in the member's inbox: its received shares, at their inbox positions
_INBOX = _Side("a.pos", "a.added", "a.member_id = ?",
               "FROM inbox a JOIN taxii_shares t ON t.share_id = a.share_id WHERE ",
               "FROM inbox a JOIN taxii_shares t ON t.share_id = a.share_id "
               "JOIN taxii_objects o ON o.share_seq = t.share_seq WHERE ",
               "FROM {probe}taxii_ids x CROSS JOIN taxii_objects o CROSS JOIN taxii_shares t "
               "CROSS JOIN inbox a WHERE " + _BY_ID +
               "AND t.share_seq = o.share_seq AND a.share_id = t.share_id AND ")
# the member's own shares (not addressed to it too), at the inbox positions they took
_OWN = _Side("t.own_pos", "t.added", "t.originator = ? AND t.own_pos IS NOT NULL",
             "FROM taxii_shares t WHERE ",
             "FROM taxii_shares t JOIN taxii_objects o ON o.share_seq = t.share_seq WHERE ",
             "FROM {probe}taxii_ids x CROSS JOIN taxii_objects o CROSS JOIN taxii_shares t "
             "WHERE " + _BY_ID + "AND t.share_seq = o.share_seq AND ")
_SIDES = (_INBOX, _OWN)


def _both(sql: Sql, member: str, query: str, params: Iterable[Any], *,
          kind: str = "objects", merge: int | None = None,
          ids: Sequence[str] = ()) -> list[Any]:
    """``query`` over the member's inbox and over its own shares: ``{from}`` is the
    side's FROM clause of ``kind`` (``shares``, ``objects``, ``by_id``), ``{member}`` its
    condition on the member (the first parameter), ``{pos}`` and ``{added}`` its
    columns. ``merge``: both sides ordered by their first two columns, merged, the first
    ``merge`` rows. ``by_id``: ``ids`` are those the query asks for, each probed only in
    the id runs whose filter may hold it (``taxii_filters.where``)."""
    args = [member, *params]
    probe = runs = ""
    if kind == "by_id":
        probe, runs, probes = taxii_filters.where(sql, ids)
        args = [*probes, *args]
    got = [sql.execute(side.sql(query.replace("{from}", getattr(side, kind))
                                .replace("{probe}", probe).replace("{runs}", runs)
                                .replace("{member}", side.member)), args).fetchall()
           for side in _SIDES]
    if merge is None:
        return [row for rows in got for row in rows]
    return list(heapq.merge(*got, key=lambda row: (row[0], row[1])))[:merge]


def _scope(channel: str | None) -> tuple[list[str], list[Any]]:
    """The member's condition and the collection's (its channel, if it has one)."""
    where, params = ["{member}"], []
    if channel is not None:
        where.append("t.channel = ?")
        params.append(channel)
    return where, params


def page_rows(sql: Sql, member: str, channel: str | None, after: tuple[int, int | None],
              added_after: str | None, filters: Sequence[tuple[str, Sequence[str]]],
              limit: int) -> list[Any]:
    """The next ``limit`` object rows of a collection after the position ``after``
    (position, object pos; a pos of None: after every object at that position), in
    collection order: (position, pos, share seq, object id, type, version, spec version,
    obj, added, body_at, body_len). A sealed share's row has pos < 0 and stands for all
    of its objects. ``filters``: ("id" | "type" | "spec_version", values) to match, the
    placeholders of sealed shares kept."""
    where, params = _scope(channel)
    if after[1] is None:
        where.append("{pos} > ?")
        params.append(after[0])
    else:
        where.append("{pos} >= ? AND ({pos} > ? OR o.pos > ? OR o.pos < 0)")
        params += [after[0], after[0], after[1]]
    if added_after is not None:
        where.append("{added} > ?")
        params.append(added_after)
    ids: list[str] | None = None
    for name, values in filters:
        if values:  # '' keeps the placeholders of sealed shares
            column = {"id": "x.object_id", "type": "o.type",
                      "spec_version": "o.spec_version"}[name]
            if name == "id":
                ids = [*(ids or ()), "", *values]
            where.append(f"{column} IN ({marks(len(values) + 1)})")
            params += ["", *values]
    return _both(sql, member, _SELECT + "{from}" + " AND ".join(where)
                 + " ORDER BY {pos}, o.pos LIMIT ?", [*params, limit],
                 kind="objects" if ids is None else "by_id", merge=limit, ids=ids or ())


def version_rows(sql: Sql, member: str, channel: str | None, ids: Sequence[str]
                 ) -> list[Any]:
    """(object id, version, position, pos, share seq) of every row of these objects in
    a collection."""
    where, params = _scope(channel)
    return _both(sql, member, "SELECT o.object_id, o.version, {pos}, o.pos, t.share_seq "
                 "{from}" + " AND ".join(where) + f" AND x.object_id IN ({marks(len(ids))})",
                 [*params, *ids], kind="by_id", ids=ids)


def object_rows(sql: Sql, member: str, channel: str | None, object_id: str) -> list[Any]:
    """(share seq, version, spec version) of every row of one object in a collection."""
    where, params = _scope(channel)
    return _both(sql, member, "SELECT t.share_seq, o.version, o.spec_version {from}"
                 + " AND ".join(where) + " AND x.object_id = ?", [*params, object_id],
                 kind="by_id", ids=[object_id])


def body_rows(sql: Sql, member: str, ids: Sequence[str]) -> list[Any]:
    """(object id, version, obj, share seq, body_at, body_len) of every row of these
    objects among the shares a member may read."""
    return _both(sql, member, "SELECT o.object_id, o.version, o.obj, t.share_seq, o.body_at, "
                 f"o.body_len {{from}}{{member}} AND x.object_id IN ({marks(len(ids))})",
                 ids, kind="by_id", ids=ids)


def sealed_after(sql: Sql, member: str, after: int) -> list[Any]:
    """(position, share seq, channel, added, sealed) of the sealed shares a member may
    read at positions after ``after``, in order."""
    return _both(sql, member, "SELECT {pos}, t.share_seq, t.channel, {added}, t.sealed "
                 "{from}{member} AND t.sealed = ? AND {pos} > ? ORDER BY {pos}, t.share_seq",
                 (True, after), kind="shares", merge=1 << 62)


def first_after(sql: Sql, member: str, added_after: str) -> int | None:
    """A position at or before the member's first entry added after a time (None: there
    is none). An entry is added when its share is stored (the member's inbox rows and
    own shares of the shares stored after it), unless it was placed again later
    (``inbox_moves``)."""
    got = sql.execute("SELECT MIN(a.pos), MIN(CASE WHEN t.originator = ? THEN t.own_pos END) "
                      "FROM taxii_shares t LEFT JOIN inbox a ON a.share_id = t.share_id "
                      "AND a.member_id = ? WHERE t.added > ?",
                      (member, member, added_after)).fetchall()[0]
    moved = sql.execute("SELECT MIN(pos) FROM inbox_moves WHERE member_id = ? AND added > ?",
                        (member, added_after)).fetchall()[0]
    found = [int(p) for p in (*got, *moved) if p is not None]
    return min(found) if found else None


def share_heads(sql: Sql, seqs: Sequence[int]) -> list[Any]:
    """(seq, id, recalled, purged, header, signature) of stored shares, by seq."""
    return sql.execute(f"SELECT seq, id, recalled, purged, header, signature FROM shares "
                       f"WHERE seq IN ({marks(len(seqs))})", list(seqs)).fetchall()


def envelope_at(sql: Sql, seq: int) -> Envelope:
    """The stored envelope of a share, by seq."""
    row = sql.execute("SELECT header, signature, payload, wraps, payload_ref "
                      "FROM shares WHERE seq=?", (seq,)).fetchone()
    return envelope_from_row(row[0], row[1], sql.payload(row[2], row[4]), row[3])
