"""The ``log_gossip`` table: checkpoints of the node's log that members handed back
(``vigil.log.gossip``)."""

from __future__ import annotations

from vigil.storage.base import Sql


def keep_checkpoint(sql: Sql, size: int, root: bytes, note: str, member: str, at: str) -> None:
    """A checkpoint handed in (the first copy of each size and root is kept)."""
    sql.execute("INSERT INTO log_gossip(size, root, note, member_id, at) VALUES(?,?,?,?,?) "
                "ON CONFLICT (size, root) DO NOTHING", (size, root, note, member, at))


def checkpoints(sql: Sql) -> list[tuple[int, bytes, str]]:
    """(size, root, note) of every checkpoint handed in, by size and root."""
    rows = sql.execute("SELECT size, root, note FROM log_gossip ORDER BY size, root").fetchall()
    return [(int(s), bytes(r), str(n)) for s, r, n in rows]
