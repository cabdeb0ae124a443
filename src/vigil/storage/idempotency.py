"""The SQL of idempotency keys: the stored answer to a publish made with an
``Idempotency-Key`` (``vigil.web.idempotency``), one row per (member, key)."""

from __future__ import annotations

from vigil.storage.base import Sql

Stored = tuple[str, int, bytes]
"""The request's fingerprint, the answer's status and its JSON body."""


def claim(sql: Sql, member: str, key: str, fingerprint: str, status: int, body: bytes,
          share_id: str, at: str, cutoff: str) -> bool:
    """Record the answer to a member's key (and forget keys made before ``cutoff``);
    False if the key is held already (by a request that committed first)."""
    sql.execute("DELETE FROM idempotency_keys WHERE created < ?", (cutoff,))
    cur = sql.execute(
        "INSERT INTO idempotency_keys(member_id, key, fingerprint, status, response, "
        "share_id, created) VALUES(?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        (member, key, fingerprint, status, body, share_id, at))
    return bool(cur.rowcount)


def lookup(sql: Sql, member: str, key: str, cutoff: str) -> Stored | None:
    """The answer stored for a member's key, unless it was made before ``cutoff``."""
    row = sql.execute(
        "SELECT fingerprint, status, response FROM idempotency_keys "
        "WHERE member_id = ? AND key = ? AND created >= ?", (member, key, cutoff)).fetchone()
    return None if row is None else (str(row[0]), int(row[1]), bytes(row[2]))
