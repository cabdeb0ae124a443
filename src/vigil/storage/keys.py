"""The SQL of the key life cycle (``vigil.node.keylife``): key records, recovery keys,
shares a revocation marks, re-wrapped content keys. Each function runs inside the
caller's transaction (``Store.write``/``Store.read``), written once for both stores."""

from __future__ import annotations

from typing import Any

from vigil.storage.base import Sql

KEY_COLUMNS = ("SELECT key_id, member_id, use, public, retired, expires, revoked_since, "
               "revoked_at, revoked_index FROM member_keys")


def key_rows(sql: Sql) -> list[Any]:
    return sql.execute(KEY_COLUMNS).fetchall()


def marked_share_ids(sql: Sql) -> list[str]:
    return [str(r[0]) for r in sql.execute("SELECT share_id FROM revoked_shares").fetchall()]


def bump_directory(sql: Sql) -> None:
    """Move the directory version (in the transaction that changes a key)."""
    sql.execute("UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
                "WHERE key='dir_version'")


def _has(sql: Sql, kid: str) -> bool:
    return sql.execute("SELECT 1 FROM member_keys WHERE key_id=?", (kid,)).fetchone() \
        is not None


def retire_key(sql: Sql, member: str, kid: str, use: str, public: bytes, at: str) -> None:
    if _has(sql, kid):
        sql.execute("UPDATE member_keys SET retired=? WHERE key_id=? AND retired IS NULL",
                    (at, kid))
    else:
        sql.execute("INSERT INTO member_keys(key_id, member_id, use, public, retired) "
                    "VALUES(?,?,?,?,?)", (kid, member, use, public, at))


def set_member_keys(sql: Sql, member: str, sign: tuple[str, bytes],
                    enc: tuple[str, bytes]) -> None:
    sql.execute("UPDATE members SET sign_key=?, sign_key_id=?, enc_key=?, enc_key_id=? "
                "WHERE id=?", (sign[1], sign[0], enc[1], enc[0], member))


def recovery_public(sql: Sql, member: str) -> bytes | None:
    row = sql.execute("SELECT public FROM recovery_keys WHERE member_id=?",
                      (member,)).fetchone()
    return None if row is None else bytes(row[0])


def put_recovery(sql: Sql, member: str, kid: str, public: bytes, at: str) -> None:
    sql.execute("DELETE FROM recovery_keys WHERE member_id=?", (member,))
    sql.execute("INSERT INTO recovery_keys(member_id, key_id, public, created) "
                "VALUES(?,?,?,?)", (member, kid, public, at))


def shares_since(sql: Sql, originator: str, point: str) -> list[tuple[str, bytes, int]]:
    """(share id, header bytes, log index) of the originator's shares stored at or
    after ``point``."""
    rows = sql.execute(
        "SELECT s.id, s.header, l.idx FROM shares s JOIN log_leaves l "
        "ON l.share_id = s.id AND l.kind='share' WHERE s.originator=? AND s.created>=?",
        (originator, point)).fetchall()
    return [(str(r[0]), bytes(r[1]), int(r[2])) for r in rows]


def log_size(sql: Sql) -> int:
    return int(sql.execute("SELECT count(*) FROM log_leaves").fetchone()[0])


def mark_share(sql: Sql, share_id: str, kid: str, at: str) -> None:
    sql.execute("INSERT INTO revoked_shares(share_id, key_id, marked) VALUES(?,?,?) "
                "ON CONFLICT(share_id) DO NOTHING", (share_id, kid, at))


def revoke_key(sql: Sql, member: str, kid: str, use: str, public: bytes, point: str,
               at: str, from_index: int) -> None:
    if _has(sql, kid):
        sql.execute("UPDATE member_keys SET revoked_since=?, revoked_at=?, revoked_index=? "
                    "WHERE key_id=?", (point, at, from_index, kid))
    else:
        sql.execute("INSERT INTO member_keys(key_id, member_id, use, public, revoked_since, "
                    "revoked_at, revoked_index) VALUES(?,?,?,?,?,?,?)",
                    (kid, member, use, public, point, at, from_index))


def expire_key(sql: Sql, member: str, kid: str, use: str, public: bytes, when: str) -> None:
    if _has(sql, kid):
        sql.execute("UPDATE member_keys SET expires=? WHERE key_id=?", (when, kid))
    else:
        sql.execute("INSERT INTO member_keys(key_id, member_id, use, public, expires) "
                    "VALUES(?,?,?,?,?)", (kid, member, use, public, when))


def put_rewrap(sql: Sql, share_id: str, member: str, kid: str, blob: bytes, at: str) -> None:
    sql.execute("DELETE FROM rewraps WHERE share_id=? AND member_id=?", (share_id, member))
    sql.execute("INSERT INTO rewraps(share_id, member_id, key_id, blob, created) "
                "VALUES(?,?,?,?,?)", (share_id, member, kid, blob, at))


def get_rewrap(sql: Sql, share_id: str, member: str) -> tuple[str, bytes] | None:
    row = sql.execute("SELECT key_id, blob FROM rewraps WHERE share_id=? AND member_id=?",
                      (share_id, member)).fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]))


def member_entries(sql: Sql) -> list[tuple[int, bytes]]:
    """Every ``member`` entry of the log: (index, canonical bytes)."""
    return [(int(r[0]), bytes(r[1])) for r in sql.execute(
        "SELECT idx, data FROM log_leaves WHERE kind='member' ORDER BY idx").fetchall()]
