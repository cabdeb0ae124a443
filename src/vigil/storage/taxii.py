"""The TAXII index tables (``taxii_shares``, ``taxii_objects``, ``taxii_status``): every
statement that writes them for ``vigil.taxii.index``. Who may read a share is not kept
here: a collection reads the member's inbox rows and its own shares (``own_pos``)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql, take_positions

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
    ``body_at``)."""
    sql.executemany("INSERT INTO taxii_objects(share_seq, pos, object_id, type, version, "
                    "spec_version, obj, body_at, body_len) VALUES(?,?,?,?,?,?,?,?,?)",
                    list(rows))


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
