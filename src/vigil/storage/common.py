"""The part of the ``Store`` protocol whose SQL is the same on SQLite and PostgreSQL:
meta values, members, users, console sessions, channels and the reads of shares and
inboxes. ``SqlStore`` writes it once over what each backend gives it — ``write`` (a
transaction), ``query`` (one statement, no transaction), ``_payload`` (a share's
payload, from its row or, on SQLite, from a file stored apart) and the backend's
unique-violation error; the backends (``sqlite.py``, ``postgres.py``) hold only what
differs: connections, transactions, migrations, the directory cache, storing a share
and reading many inboxes at once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from vigil.errors import Conflict, NotFound
from vigil.model import Channel, Envelope, InboxEntry, Member, ShareState, User
from vigil.storage.base import (
    Sql,
    envelope_from_row,
    insert_member,
    write_channel,
    write_channel_change,
)

T = TypeVar("T")


def bump_directory(sql: Sql) -> None:
    """A new version of the directory (members, channels): the stores' caches of it
    reload."""
    sql.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
                "WHERE key='dir_version'")


class SqlStore(ABC):
    # the backend's error for a row that breaks a unique constraint
    unique_violation: type[Exception]

    @abstractmethod
    def write(self, fn: Callable[[Sql], T]) -> T: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

    @abstractmethod
    def _payload(self, stored: bytes | None, ref: str | None) -> bytes | None: ...

    # -- meta ----------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
        return None if not rows else str(rows[0][0])

    def set_meta(self, key: str, value: str) -> None:
        self.write(lambda sql: sql.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value)))

    def _directory_tx(self, change: Callable[[Sql], bool],
                      also: Callable[[Sql], None] | None,
                      conflict: Conflict | None = None) -> bool:
        """Run ``change`` in a transaction; when it changed something, a new directory
        version and ``also`` in the same transaction. ``conflict``: what a unique
        violation means (else it is raised as it is)."""

        def fn(sql: Sql) -> bool:
            if not change(sql):
                return False
            bump_directory(sql)
            if also is not None:
                also(sql)
            return True

        try:
            return self.write(fn)
        except self.unique_violation as exc:
            if conflict is None:
                raise
            raise conflict from exc

    # -- members -------------------------------------------------------------
    def add_member(self, member: Member, also: Callable[[Sql], None] | None = None) -> None:
        def insert(sql: Sql) -> bool:
            insert_member(sql, member)
            return True

        self._directory_tx(insert, also, Conflict(
            f"a member named {member.name!r} already exists", code="member.exists"))

    def set_member_active(self, member_id: str, active: bool,
                          also: Callable[[Sql], None] | None = None) -> None:
        def update(sql: Sql) -> bool:
            cur = sql.execute("UPDATE members SET active=? WHERE id=?", (active, member_id))
            if cur.rowcount == 0:
                raise NotFound("no such member", code="member.not_found")
            return True

        self._directory_tx(update, also)

    # -- users -----------------------------------------------------------------
    def add_user(self, user: User, token_hash: str, prefix: str = "") -> None:
        try:
            self.write(lambda sql: sql.execute(
                "INSERT INTO users(id, member_id, name, token_hash, created, revoked, "
                "scope, expires, token_prefix) VALUES(?,?,?,?,?,FALSE,?,?,?)",
                (user.id, user.member_id, user.name, token_hash, user.created,
                 user.scope, user.expires, prefix)))
        except self.unique_violation as exc:
            raise Conflict(
                f"user {user.name!r} already exists for this member", code="user.exists"
            ) from exc

    def user_by_token_hash(self, token_hash: str) -> User | None:
        rows = self.query("SELECT id, member_id, name, created, scope, expires FROM users "
                          "WHERE token_hash=? AND revoked=FALSE", (token_hash,))
        return User(*rows[0]) if rows else None

    def user_by_id(self, user_id: str) -> User | None:
        rows = self.query("SELECT id, member_id, name, created, scope, expires FROM users "
                          "WHERE id=? AND revoked=FALSE", (user_id,))
        return User(*rows[0]) if rows else None

    def list_users(self, member_id: str) -> list[User]:
        rows = self.query("SELECT id, member_id, name, created FROM users WHERE member_id=? "
                          "AND revoked=FALSE ORDER BY name", (member_id,))
        return [User(r[0], r[1], r[2], r[3]) for r in rows]

    # -- console sessions ----------------------------------------------------------
    def add_session(self, id_hash: str, user_id: str, csrf: str, expires: str) -> None:
        self.write(lambda sql: sql.execute(
            "INSERT INTO sessions(id_hash, user_id, csrf, expires) VALUES(?,?,?,?)",
            (id_hash, user_id, csrf, expires)))

    def get_session(self, id_hash: str, now: str) -> tuple[str, str] | None:
        rows = self.query("SELECT user_id, csrf FROM sessions WHERE id_hash=? AND expires>?",
                          (id_hash, now))
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    def drop_session(self, id_hash: str, now: str) -> None:
        self.write(lambda sql: sql.execute(
            "DELETE FROM sessions WHERE id_hash=? OR expires<=?", (id_hash, now)))

    # -- channels --------------------------------------------------------------
    def add_channel(self, channel: Channel, actor: str, at: str,
                    also: Callable[[Sql], None] | None = None) -> None:
        def insert(sql: Sql) -> bool:
            write_channel(sql.execute, channel, actor, at)
            return True

        self._directory_tx(insert, also, Conflict(
            f"you already own a channel named {channel.name!r}", code="channel.exists"))

    def add_channel_member(self, channel_id: str, member_id: str, actor: str, at: str,
                           also: Callable[[Sql], None] | None = None) -> bool:
        return self._change_channel(channel_id, member_id, actor, at, also, join=True)

    def remove_channel_member(
        self, channel_id: str, member_id: str, actor: str, at: str,
        also: Callable[[Sql], None] | None = None
    ) -> bool:
        return self._change_channel(channel_id, member_id, actor, at, also, join=False)

    def _change_channel(self, channel_id: str, member_id: str, actor: str, at: str,
                        also: Callable[[Sql], None] | None, *, join: bool) -> bool:
        return self._directory_tx(lambda sql: write_channel_change(
            sql.execute, channel_id, member_id, actor, at, join=join), also)

    def channel_events(self, channel_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT member_id, event, actor, at FROM channel_events "
                          "WHERE channel_id=? ORDER BY seq", (channel_id,))
        return [
            {"seq": k + 1, "member": r[0], "event": r[1], "actor": r[2], "at": r[3]}
            for k, r in enumerate(rows)
        ]

    # -- shares and inboxes ---------------------------------------------------------
    def _envelope(self, header: bytes, signature: bytes, payload: bytes | None,
                  wraps: bytes, ref: str | None) -> Envelope:
        return envelope_from_row(header, signature, self._payload(payload, ref), wraps)

    def get_share(self, share_id: str) -> tuple[Envelope, ShareState] | None:
        rows = self.query("SELECT header, signature, payload, wraps, payload_ref, recalled, "
                          "purged FROM shares WHERE id=?", (share_id,))
        if not rows:
            return None
        r = rows[0]
        return self._envelope(*r[:5]), ShareState(bool(r[5]), bool(r[6]))

    def inbox(
        self, member_id: str, after: int, limit: int
    ) -> list[tuple[InboxEntry, Envelope, ShareState]]:
        rows = self.query(
            "SELECT i.pos, i.share_id, i.added, s.header, s.signature, s.payload, s.wraps, "
            "s.payload_ref, s.recalled, s.purged FROM inbox i JOIN shares s "
            "ON s.id = i.share_id WHERE i.member_id=? AND i.pos>? ORDER BY i.pos LIMIT ?",
            (member_id, after, limit))
        return [(InboxEntry(int(r[0]), member_id, r[1], r[2]), self._envelope(*r[3:8]),
                 ShareState(bool(r[8]), bool(r[9]))) for r in rows]

    def inbox_refs(
        self, member_id: str, after: int, limit: int
    ) -> list[tuple[InboxEntry, ShareState]]:
        rows = self.query(
            "SELECT i.pos, i.share_id, i.added, s.recalled, s.purged FROM inbox i "
            "JOIN shares s ON s.id = i.share_id WHERE i.member_id=? AND i.pos>? "
            "ORDER BY i.pos LIMIT ?", (member_id, after, limit))
        return [
            (InboxEntry(int(r[0]), member_id, r[1], r[2]), ShareState(bool(r[3]), bool(r[4])))
            for r in rows
        ]

    def inbox_head(self, member_id: str) -> int:
        rows = self.query("SELECT head FROM cursor_heads WHERE member_id=? AND stream='inbox'",
                          (member_id,))
        return int(rows[0][0] or 0) if rows else 0

    def sent(
        self, member_id: str, after: int, limit: int
    ) -> list[tuple[int, Envelope, ShareState]]:
        # a share's place in its originator's list is its cursor (shares are never
        # deleted, and join the end of the list in commit order: one writer on SQLite,
        # SHARE_LOCK on PostgreSQL): it counts the member's own only
        rows = self.query(
            "SELECT header, signature, payload, wraps, payload_ref, recalled, purged "
            "FROM shares WHERE originator=? ORDER BY seq LIMIT ? OFFSET ?",
            (member_id, limit, after))
        return [(after + k + 1, self._envelope(*r[:5]), ShareState(bool(r[5]), bool(r[6])))
                for k, r in enumerate(rows)]

    def share_count(self) -> int:
        rows = self.query("SELECT COUNT(*) FROM shares")
        return int(rows[0][0]) if rows else 0
