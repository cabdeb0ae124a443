"""The blind-matching tables (``channel_keys``, ``blind_tokens``, ``blind_matches``,
``blind_notices``): every statement of ``vigil.analysis.blind``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql

CHUNK = 500  # share ids per query


def latest_epoch(sql: Sql, channel_id: str) -> int:
    """The channel's newest key epoch, 0 for none."""
    row = sql.execute("SELECT MAX(epoch) FROM channel_keys WHERE channel_id=?",
                      (channel_id,)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def epoch_copies(sql: Sql, channel_id: str, epoch: int) -> list[Any]:
    """(member, key id sealed to, created) of each copy of an epoch's key."""
    return list(sql.execute("SELECT member_id, enc_key_id, created FROM channel_keys "
                            "WHERE channel_id=? AND epoch=?", (channel_id, epoch)).fetchall())


def member_copy(sql: Sql, channel_id: str, epoch: int, member: str) -> Any:
    """(key id, blob, sealed by) of a member's copy, None if it holds none."""
    return sql.execute("SELECT enc_key_id, blob, sealed_by FROM channel_keys "
                       "WHERE channel_id=? AND epoch=? AND member_id=?",
                       (channel_id, epoch, member)).fetchone()


def insert_copy(sql: Sql, row: Sequence[Any]) -> bool:
    """(channel, epoch, member, key id, blob, sealed by, created); False if that copy
    was stored first by another."""
    cur = sql.execute("INSERT INTO channel_keys(channel_id, epoch, member_id, enc_key_id, "
                      "blob, sealed_by, created) VALUES(?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                      tuple(row))
    return bool(cur.rowcount)


def insert_tokens(sql: Sql, rows: Iterable[Sequence[Any]]) -> None:
    """(share, channel, epoch, token) rows."""
    sql.executemany("INSERT INTO blind_tokens(share_id, channel_id, epoch, token) "
                    "VALUES(?,?,?,?)", list(rows))


def token_hits(sql: Sql, share_id: str, limit: int) -> list[Any]:
    """(other share, tokens in common) for the shares of the same channel and epoch
    holding any token of ``share_id``, most in common first."""
    return list(sql.execute(
        "SELECT b.share_id, COUNT(*) FROM blind_tokens a JOIN blind_tokens b "
        "ON b.channel_id=a.channel_id AND b.epoch=a.epoch AND b.token=a.token "
        "WHERE a.share_id=? AND b.share_id<>a.share_id GROUP BY b.share_id "
        "ORDER BY COUNT(*) DESC, b.share_id LIMIT ?", (share_id, limit)).fetchall())


def insert_matches(sql: Sql, rows: Iterable[Sequence[Any]]) -> None:
    """(share, other, channel, epoch, tokens, created) rows."""
    sql.executemany("INSERT INTO blind_matches(share_id, other_id, channel_id, epoch, tokens, "
                    "created) VALUES(?,?,?,?,?,?)", list(rows))


def share_headers(sql: Sql, ids: Sequence[str]) -> list[tuple[str, bytes]]:
    """(id, header) of these shares."""
    out: list[tuple[str, bytes]] = []
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        out += [(str(r[0]), bytes(r[1])) for r in sql.execute(
            f"SELECT id, header FROM shares WHERE id IN ({','.join('?' * len(chunk))})",
            chunk).fetchall()]
    return out


def insert_notices(sql: Sql, rows: Iterable[Sequence[Any]]) -> None:
    """(member, share, other, pos) rows."""
    sql.executemany("INSERT INTO blind_notices(member_id, share_id, other_id, pos) "
                    "VALUES(?,?,?,?)", list(rows))


def delete_of_share(sql: Sql, share_id: str) -> None:
    """A share's tokens, the matches it is part of and their notices."""
    sql.execute("DELETE FROM blind_tokens WHERE share_id=?", (share_id,))
    sql.execute("DELETE FROM blind_matches WHERE share_id=? OR other_id=?",
                (share_id, share_id))
    sql.execute("DELETE FROM blind_notices WHERE share_id=? OR other_id=?",
                (share_id, share_id))


def notices_after(sql: Sql, member: str, after: int, limit: int) -> list[Any]:
    """(pos, share, other, channel, epoch, tokens, created) of a member's notices after
    position ``after``."""
    return list(sql.execute(
        "SELECT n.pos, m.share_id, m.other_id, m.channel_id, m.epoch, m.tokens, m.created "
        "FROM blind_notices n JOIN blind_matches m ON m.share_id = n.share_id "
        "AND m.other_id = n.other_id WHERE n.member_id=? AND n.pos>? ORDER BY n.pos LIMIT ?",
        (member, after, limit)).fetchall())


def matched_with(sql: Sql, share_id: str) -> list[str]:
    """The shares that blind-match this one."""
    return [str(r[0]) for r in sql.execute(
        "SELECT other_id FROM blind_matches WHERE share_id=? UNION "
        "SELECT share_id FROM blind_matches WHERE other_id=?", (share_id, share_id)).fetchall()]
