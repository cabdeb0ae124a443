"""The sign-in tables (``users``, ``sessions``, ``user_certs``, ``auth_events``) as the
sign-in modules use them: every statement of ``vigil.signin.users``, ``tokens``,
``certs`` and ``audit``."""

from __future__ import annotations

from typing import Any

from vigil.storage.base import Sql

USER_TOKEN_COLUMNS = "id, name, token_prefix, scope, created, expires, revoked"


# -- users and the credential epoch ---------------------------------------------------------

def set_meta(sql: Sql, key: str, value: str) -> None:
    sql.execute("INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value", (key, value))


def users_of(sql: Sql, member: str) -> list[Any]:
    """(id, name, created, admin, revoked) of a member's users, by name."""
    return list(sql.execute("SELECT id, name, created, admin, revoked FROM users "
                            "WHERE member_id=? ORDER BY name", (member,)).fetchall())


def user_named(sql: Sql, member: str, ref: str) -> str | None:
    """The id of the member's user with this name or id."""
    row = sql.execute("SELECT id FROM users WHERE member_id=? AND (name=? OR id=?)",
                      (member, ref, ref)).fetchone()
    return None if row is None else str(row[0])


def users_by_prefix(sql: Sql, member: str, prefix: str) -> list[str]:
    """The ids of the member's users whose token starts with ``prefix``."""
    return [str(r[0]) for r in sql.execute(
        "SELECT id FROM users WHERE member_id=? AND token_prefix=?", (member, prefix)).fetchall()]


def set_admin(sql: Sql, user: str, admin: bool) -> None:
    sql.execute("UPDATE users SET admin=? WHERE id=?", (admin, user))


def is_admin(sql: Sql, user: str, member: str) -> bool:
    row = sql.execute("SELECT admin FROM users WHERE id=? AND member_id=?",
                      (user, member)).fetchone()
    return row is not None and bool(row[0])


def revoke(sql: Sql, user: str) -> bool:
    """Revoke a user; False if it was revoked already."""
    cur = sql.execute("UPDATE users SET revoked=? WHERE id=? AND revoked=?", (True, user, False))
    return bool(cur.rowcount)


def end_sessions(sql: Sql, user: str) -> None:
    sql.execute("DELETE FROM sessions WHERE user_id=?", (user,))


def end_member_sessions(sql: Sql, member: str) -> None:
    sql.execute("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE member_id=?)",
                (member,))


# -- tokens -----------------------------------------------------------------------------------

def token_rows(sql: Sql, *, user: str | None = None, member: str | None = None) -> list[Any]:
    """(``USER_TOKEN_COLUMNS``) of one user, or of a member's users by name."""
    if user is not None:
        return list(sql.execute(f"SELECT {USER_TOKEN_COLUMNS} FROM users WHERE id=?",
                                (user,)).fetchall())
    return list(sql.execute(f"SELECT {USER_TOKEN_COLUMNS} FROM users WHERE member_id=? "
                            "ORDER BY name", (member,)).fetchall())


def token_state(sql: Sql, user: str) -> Any:
    """(scope, expires, revoked) of a user."""
    return sql.execute("SELECT scope, expires, revoked FROM users WHERE id=?",
                       (user,)).fetchone()


def set_token(sql: Sql, user: str, token_hash: str, prefix: str, scope: str,
              expires: str | None) -> None:
    sql.execute("UPDATE users SET token_hash=?, token_prefix=?, scope=?, expires=? WHERE id=?",
                (token_hash, prefix, scope, expires, user))


def users_with_prefix(sql: Sql, prefix: str) -> list[Any]:
    """(id, member) of every user whose token starts with ``prefix``, any member."""
    return list(sql.execute("SELECT id, member_id FROM users WHERE token_prefix=?",
                            (prefix,)).fetchall())


# -- client certificates ----------------------------------------------------------------------

def cert_taken(sql: Sql, kind: str, value: str) -> bool:
    return sql.execute("SELECT 1 FROM user_certs WHERE kind=? AND value=? AND revoked=?",
                       (kind, value, False)).fetchone() is not None


def insert_cert(sql: Sql, cert_id: str, user: str, kind: str, value: str, at: str) -> None:
    sql.execute("INSERT INTO user_certs(id, user_id, kind, value, created, revoked) "
                "VALUES(?, ?, ?, ?, ?, ?)", (cert_id, user, kind, value, at, False))


def live_cert_user(sql: Sql, cert_id: str, member: str) -> str | None:
    """The user a live mapping of the member's stands for."""
    row = sql.execute("SELECT c.user_id FROM user_certs c JOIN users u ON u.id=c.user_id "
                      "WHERE c.id=? AND u.member_id=? AND c.revoked=?",
                      (cert_id, member, False)).fetchone()
    return None if row is None else str(row[0])


def revoke_cert(sql: Sql, cert_id: str) -> None:
    sql.execute("UPDATE user_certs SET revoked=? WHERE id=?", (True, cert_id))


def certs_of(sql: Sql, member: str) -> list[Any]:
    """(id, user name, kind, value, created, revoked) of a member's mappings."""
    return list(sql.execute(
        "SELECT c.id, u.name, c.kind, c.value, c.created, c.revoked FROM user_certs c "
        "JOIN users u ON u.id=c.user_id WHERE u.member_id=? ORDER BY c.created",
        (member,)).fetchall())


def token_hash_for_cert(sql: Sql, keys: tuple[tuple[str, str], tuple[str, str]]) -> str | None:
    """The token hash of the user a live mapping of either (kind, value) stands for."""
    row = sql.execute(
        "SELECT u.token_hash FROM user_certs c JOIN users u ON u.id=c.user_id "
        "WHERE c.revoked=? AND ((c.kind=? AND c.value=?) OR (c.kind=? AND c.value=?)) "
        "ORDER BY c.kind LIMIT 1", (False, *keys[0], *keys[1])).fetchone()
    return None if row is None else str(row[0])


# -- sign-in events ---------------------------------------------------------------------------

def insert_event(sql: Sql, member: str, user: str | None, event: str, detail: str,
                 address: str, at: str) -> None:
    sql.execute("INSERT INTO auth_events(member_id, user_id, event, detail, address, at) "
                "VALUES(?, ?, ?, ?, ?, ?)", (member, user, event, detail, address, at))


def events_after(sql: Sql, member: str, after: int, limit: int) -> list[Any]:
    """(seq, member, user, event, detail, address, at) of a member's events."""
    return list(sql.execute(
        "SELECT seq, member_id, user_id, event, detail, address, at FROM auth_events "
        "WHERE member_id=? AND seq>? ORDER BY seq LIMIT ?", (member, after, limit)).fetchall())
