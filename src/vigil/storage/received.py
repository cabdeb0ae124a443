"""The rows that items from a peer (``vigil.federation.kinds``) read and write: shares
stored as they came, and members and channels homed at another node (``fed_members``,
``fed_channels``) beside their rows in the directory's tables. Receipts and recalls go
through ``vigil.storage.accountability`` as local ones do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.model import Member
from vigil.storage.base import (
    MEMBER_COLUMNS,
    Sql,
    build_directory,
    insert_member,
)

# -- shares ------------------------------------------------------------------------------


def share_head(sql: Sql, share_id: str) -> tuple[bytes, bytes] | None:
    """(header bytes, signature) of a stored share."""
    row = sql.execute("SELECT header, signature FROM shares WHERE id=?",
                      (share_id,)).fetchone()
    return None if row is None else (bytes(row[0]), bytes(row[1]))


def share_heads(sql: Sql, share_ids: Sequence[str], chunk: int = 500
                ) -> dict[str, tuple[bytes, bytes]]:
    """``share_head`` of those of ``share_ids`` stored here, by id."""
    out: dict[str, tuple[bytes, bytes]] = {}
    for start in range(0, len(share_ids), chunk):
        part = list(share_ids[start:start + chunk])
        marks = ",".join("?" * len(part))
        out.update((str(r[0]), (bytes(r[1]), bytes(r[2]))) for r in sql.execute(
            f"SELECT id, header, signature FROM shares WHERE id IN ({marks})",
            part).fetchall())
    return out


def insert_shares(sql: Sql, rows: Sequence[tuple[Any, ...]]) -> None:
    """Received shares ``(id, originator, header, signature, payload, wraps, created,
    expires)``, neither recalled nor purged."""
    sql.executemany("INSERT INTO shares(id, originator, header, signature, payload, wraps, "
                    "created, expires, recalled, purged) VALUES(?,?,?,?,?,?,?,?,?,?)",
                    [(*r, False, False) for r in rows])


def share_origin(sql: Sql, share_id: str) -> tuple[str, bytes, bool] | None:
    """(originator, header, purged) of a stored share, or None."""
    row = sql.execute("SELECT originator, header, purged FROM shares WHERE id=?",
                      (share_id,)).fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]), bool(row[2]))


# -- members -----------------------------------------------------------------------------

def member_of(sql: Sql, member: str) -> Member | None:
    rows = sql.execute(MEMBER_COLUMNS + " WHERE id=?", (member,)).fetchall()
    return build_directory(rows, [], []).members.get(member)


def add_remote_member(sql: Sql, member: Member, node: str, index: int,
                      revoked: int | None) -> None:
    """A member homed at ``node``, known from entry ``index`` of that node's log."""
    insert_member(sql, member)
    sql.execute("INSERT INTO fed_members(member_id, node_id, log_index, "
                "revoked_index) VALUES(?,?,?,?)", (member.id, node, index, revoked))


def update_remote_member(sql: Sql, member: Member, node: str, index: int,
                         revoked: int | None) -> None:
    """New keys and state of a member known here, homed at ``node`` from now on."""
    sql.execute("UPDATE members SET sign_key=?, sign_key_id=?, enc_key=?, "
                "enc_key_id=?, active=? WHERE id=?",
                (member.sign_key, member.sign_key_id, member.enc_key, member.enc_key_id,
                 member.active, member.id))
    sql.execute("UPDATE fed_members SET node_id=?, log_index=?, revoked_index=? "
                "WHERE member_id=?", (node, index, revoked, member.id))


# -- channels ----------------------------------------------------------------------------

def channel_epoch(sql: Sql, channel_id: str) -> int | None:
    """The epoch of a channel homed at another node (None: not one)."""
    row = sql.execute("SELECT epoch FROM fed_channels WHERE channel_id=?",
                      (channel_id,)).fetchone()
    return None if row is None else int(row[0])


def channel_owner(sql: Sql, channel_id: str) -> str | None:
    """The owner of a channel known here (None: no such channel)."""
    row = sql.execute("SELECT owner FROM channels WHERE id=?", (channel_id,)).fetchone()
    return None if row is None else str(row[0])


def has_channel(sql: Sql, channel_id: str) -> bool:
    return sql.execute("SELECT 1 FROM channels WHERE id=?",
                       (channel_id,)).fetchone() is not None


def add_remote_channel(sql: Sql, channel_id: str, name: str, kind: str, owner: str,
                       created: str, node: str, epoch: int) -> None:
    """A channel homed at ``node``, without members yet."""
    sql.execute("INSERT INTO channels(id, name, kind, owner, created) VALUES(?,?,?,?,?)",
                (channel_id, name, kind, owner, created))
    sql.execute("INSERT INTO fed_channels(channel_id, node_id, epoch) VALUES(?,?,?)",
                (channel_id, node, epoch))


def set_channel_epoch(sql: Sql, channel_id: str, epoch: int) -> None:
    sql.execute("UPDATE fed_channels SET epoch=? WHERE channel_id=?", (epoch, channel_id))


def channel_members(sql: Sql, channel_id: str) -> set[str]:
    return {str(r[0]) for r in sql.execute(
        "SELECT member_id FROM channel_members WHERE channel_id=?", (channel_id,)
    ).fetchall()}
