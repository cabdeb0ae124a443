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


# -- single sign-on (``vigil.signin.sso``) ----------------------------------------------------

def insert_provider(sql: Sql, row: tuple[str, str, str, str, str, str, str],
                    members: list[str]) -> None:
    """(issuer, client id, sealed secret, member claim, user claim, scopes, created) and
    the members it may sign in."""
    sql.execute("INSERT INTO sso_providers(issuer, client_id, client_secret, member_claim, "
                "user_claim, scopes, created) VALUES(?,?,?,?,?,?,?)", row)
    for mid in members:
        sql.execute("INSERT INTO sso_members(issuer, member_id) VALUES(?,?)", (row[0], mid))


def delete_provider(sql: Sql, issuer: str) -> bool:
    """A provider with its members and pending sign-ins; whether there was one."""
    sql.execute("DELETE FROM sso_members WHERE issuer=?", (issuer,))
    sql.execute("DELETE FROM sso_pending WHERE issuer=?", (issuer,))
    return bool(sql.execute("DELETE FROM sso_providers WHERE issuer=?", (issuer,)).rowcount)


def provider_rows(sql: Sql) -> tuple[list[Any], list[Any]]:
    """(issuer, client id, secret, member claim, user claim, scopes) of each provider,
    and (issuer, member) of each member a provider may sign in."""
    rows = sql.execute("SELECT issuer, client_id, client_secret, member_claim, user_claim, "
                       "scopes FROM sso_providers ORDER BY issuer").fetchall()
    members = sql.execute("SELECT issuer, member_id FROM sso_members ORDER BY member_id"
                          ).fetchall()
    return list(rows), list(members)


def provider_secrets(sql: Sql) -> list[tuple[str, str]]:
    return [(str(i), str(v)) for i, v in sql.execute(
        "SELECT issuer, client_secret FROM sso_providers").fetchall()]


def set_provider_secret(sql: Sql, issuer: str, secret: str) -> None:
    sql.execute("UPDATE sso_providers SET client_secret=? WHERE issuer=?", (secret, issuer))


def live_user_named(sql: Sql, member: str, name: str) -> str | None:
    row = sql.execute("SELECT id FROM users WHERE member_id=? AND name=? AND revoked=?",
                      (member, name, False)).fetchone()
    return None if row is None else str(row[0])


def insert_pending(sql: Sql, state_hash: str, issuer: str, nonce: str, verifier: str,
                   expires: str, now: str) -> None:
    """A sign-in under way (those past their time are dropped)."""
    sql.execute("DELETE FROM sso_pending WHERE expires<=?", (now,))
    sql.execute("INSERT INTO sso_pending(state_hash, issuer, nonce, verifier, expires) "
                "VALUES(?,?,?,?,?)", (state_hash, issuer, nonce, verifier, expires))


def take_pending(sql: Sql, state_hash: str, now: str) -> Any:
    """(issuer, nonce, verifier) of a sign-in under way, used once."""
    row = sql.execute("SELECT issuer, nonce, verifier FROM sso_pending "
                      "WHERE state_hash=? AND expires>?", (state_hash, now)).fetchone()
    sql.execute("DELETE FROM sso_pending WHERE state_hash=?", (state_hash,))
    return row


def insert_sso_session(sql: Sql, session_hash: str, issuer: str, id_token: str, expires: str,
                       sid: str | None, sub: str | None) -> None:
    sql.execute("INSERT INTO sso_sessions(session_hash, issuer, id_token, expires, sid, sub) "
                "VALUES(?,?,?,?,?,?)", (session_hash, issuer, id_token, expires, sid, sub))


def sso_session_hashes(sql: Sql, issuer: str, sid: str | None, sub: str | None) -> list[str]:
    """The console sessions a provider's logout names (by session id, subject or both)."""
    if sid is not None:
        rows = sql.execute("SELECT session_hash FROM sso_sessions WHERE issuer=? AND sid=?"
                           + (" AND sub=?" if sub is not None else ""),
                           (issuer, sid, *((sub,) if sub is not None else ()))).fetchall()
    else:
        rows = sql.execute("SELECT session_hash FROM sso_sessions WHERE issuer=? AND sub=?",
                           (issuer, sub)).fetchall()
    return [str(r[0]) for r in rows]


def end_console_session(sql: Sql, session_hash: str) -> Any:
    """End a console session and its provider record; (user, member) it was, if any."""
    user = sql.execute("SELECT s.user_id, u.member_id FROM sessions s JOIN users u "
                       "ON u.id = s.user_id WHERE s.id_hash=?", (session_hash,)).fetchone()
    sql.execute("DELETE FROM sessions WHERE id_hash=?", (session_hash,))
    sql.execute("DELETE FROM sso_sessions WHERE session_hash=?", (session_hash,))
    return user


def take_sso_session(sql: Sql, session_hash: str, now: str) -> Any:
    """(issuer, id token) of a console session's provider record, removed (and those past
    their time)."""
    sql.execute("DELETE FROM sso_sessions WHERE expires<=?", (now,))
    row = sql.execute("SELECT issuer, id_token FROM sso_sessions WHERE session_hash=?",
                      (session_hash,)).fetchone()
    sql.execute("DELETE FROM sso_sessions WHERE session_hash=?", (session_hash,))
    return row


# -- passkeys and the second sign-in step (``vigil.signin.passkeys``) -------------------------

def passkeys_of(sql: Sql, user: str) -> list[Any]:
    """(id, name, created) of a user's keys, oldest first."""
    return list(sql.execute("SELECT id, name, created FROM passkeys WHERE user_id=? "
                            "ORDER BY created", (user,)).fetchall())


def keys_required(sql: Sql, member: str) -> bool:
    return sql.execute("SELECT 1 FROM passkey_members WHERE member_id=?",
                       (member,)).fetchone() is not None


def set_keys_required(sql: Sql, member: str, on: bool) -> None:
    sql.execute("DELETE FROM passkey_members WHERE member_id=?", (member,))
    if on:
        sql.execute("INSERT INTO passkey_members(member_id) VALUES(?)", (member,))


def insert_step(sql: Sql, row: tuple[str, str | None, str, str, str | None, str | None, str],
                now: str) -> None:
    """A sign-in step under way (id hash, user, challenge, method, issuer, id token,
    expires); those past their time are dropped."""
    sql.execute("DELETE FROM signin_steps WHERE expires<=?", (now,))
    sql.execute("INSERT INTO signin_steps(id_hash, user_id, challenge, method, issuer, "
                "id_token, expires) VALUES(?,?,?,?,?,?,?)", row)


def step_row(sql: Sql, id_hash: str, now: str) -> Any:
    """(user, challenge, method, issuer, id token) of a live step."""
    return sql.execute("SELECT user_id, challenge, method, issuer, id_token FROM signin_steps "
                       "WHERE id_hash=? AND expires>?", (id_hash, now)).fetchone()


def delete_step(sql: Sql, id_hash: str) -> bool:
    return bool(sql.execute("DELETE FROM signin_steps WHERE id_hash=?", (id_hash,)).rowcount)


def passkey_exists(sql: Sql, key_id: str) -> bool:
    return sql.execute("SELECT 1 FROM passkeys WHERE id=?", (key_id,)).fetchone() is not None


def insert_passkey(sql: Sql, row: tuple[str, str, str, bytes, int, str]) -> None:
    """(id, user, name, public key, sign count, created)."""
    sql.execute("INSERT INTO passkeys(id, user_id, name, public_key, sign_count, created) "
                "VALUES(?,?,?,?,?,?)", row)


def passkey_name(sql: Sql, key_id: str, user: str) -> str | None:
    row = sql.execute("SELECT name FROM passkeys WHERE id=? AND user_id=?",
                      (key_id, user)).fetchone()
    return None if row is None else str(row[0])


def delete_passkey(sql: Sql, key_id: str) -> None:
    sql.execute("DELETE FROM passkeys WHERE id=?", (key_id,))


def passkey_row(sql: Sql, key_id: str) -> Any:
    """(user, public key, sign count) of a key."""
    return sql.execute("SELECT user_id, public_key, sign_count FROM passkeys WHERE id=?",
                       (key_id,)).fetchone()


def set_sign_count(sql: Sql, key_id: str, count: int) -> None:
    sql.execute("UPDATE passkeys SET sign_count=? WHERE id=?", (count, key_id))
