"""The ``warninglists`` table: members' own lists (``vigil.analysis.warninglists``)."""

from __future__ import annotations

from typing import Any

from vigil.storage.base import Sql


def replace_list(sql: Sql, member_id: str, name: str, body: bytes, added: str) -> None:
    """Store a member's list, replacing its list of the same name."""
    sql.execute("DELETE FROM warninglists WHERE member_id=? AND name=?", (member_id, name))
    sql.execute("INSERT INTO warninglists(member_id, name, body, added) VALUES(?,?,?,?)",
                (member_id, name, body, added))


def delete_list(sql: Sql, member_id: str, name: str) -> bool:
    """Remove a member's list; whether there was one."""
    cur = sql.execute("DELETE FROM warninglists WHERE member_id=? AND name=?",
                      (member_id, name))
    return bool(cur.rowcount)


def lists_stamp(sql: Sql, member_id: str) -> tuple[int, int]:
    """(how many lists, the newest row's seq) of a member: changes with every write."""
    row = sql.execute("SELECT count(*), coalesce(max(seq), 0) FROM warninglists "
                      "WHERE member_id=?", (member_id,)).fetchone()
    return int(row[0]), int(row[1])


def list_bodies(sql: Sql, member_id: str) -> list[Any]:
    """The member's lists' bodies, by name."""
    return list(sql.execute("SELECT body FROM warninglists WHERE member_id=? ORDER BY name",
                            (member_id,)).fetchall())
