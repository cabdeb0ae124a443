"""The TAXII index tables (``taxii_shares``, ``taxii_objects``, ``taxii_status``): every
statement that writes them for ``vigil.taxii.index``. Who may read a share is not kept
here: a collection reads the member's inbox rows and its own shares (``own_pos``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql, take_positions

SHARE_COLUMNS = "seq, header, signature, payload, wraps"


def insert_status(sql: Sql, row: tuple[str, str, bytes, str]) -> None:
    """A TAXII status row ``(id, member, body, created)``."""
    sql.execute("INSERT INTO taxii_status(id, member_id, body, created) VALUES(?,?,?,?)",
                row)


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


def insert_objects(sql: Sql, rows: Iterable[Sequence[Any]]) -> None:
    """Object rows ``(share_seq, pos, object_id, type, version, spec_version, obj,
    body_at, body_len)`` (``obj`` empty when the body is the payload's slice at
    ``body_at``)."""
    sql.executemany("INSERT INTO taxii_objects(share_seq, pos, object_id, type, version, "
                    "spec_version, obj, body_at, body_len) VALUES(?,?,?,?,?,?,?,?,?)",
                    list(rows))


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
