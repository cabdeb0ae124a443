"""The tables of receipts, recalls and retention (``receipts``, ``recalls``) and what a
recall or a purge does to a share's rows: payload and wraps removed (overwritten on
SQLite, ``secure_delete``), inbox rows dropped, and the WAL truncated afterwards.
``vigil.node.accountability`` holds the rules; this module the statements."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from typing import Any

from vigil.storage.base import Sql, Store, wraps_to_bytes

log = logging.getLogger(__name__)

NO_WRAPS = wraps_to_bytes(())


# -- receipts ------------------------------------------------------------------------------

def receipt(sql: Sql, share_id: str, member: str, what: str) -> tuple[str, int] | None:
    """``(at, log index)`` of a member's receipt of a share, or None."""
    row = sql.execute("SELECT at, log_idx FROM receipts WHERE share_id=? AND member_id=? "
                      "AND what=?", (share_id, member, what)).fetchone()
    return None if row is None else (str(row[0]), int(row[1]))


def add_receipt(sql: Sql, share_id: str, member: str, what: str, at: str,
                log_index: int) -> None:
    sql.execute("INSERT INTO receipts(share_id, member_id, what, at, log_idx) "
                "VALUES(?,?,?,?,?)", (share_id, member, what, at, log_index))


def has_receipt(sql: Sql, share_id: str, member: str, what: str) -> bool:
    return sql.execute("SELECT 1 FROM receipts WHERE share_id=? AND member_id=? AND what=?",
                       (share_id, member, what)).fetchone() is not None


def receipts_of(sql: Sql, share_id: str
                ) -> tuple[list[Any], Any, list[Any], list[Any]]:
    """For the view of a share's receipts: its receipts ``(member, what, at, log
    index)``, its recall ``(at, key, log index)`` or None, its inbox rows ``(member,
    added)`` and its delays ``(member, not before)``."""
    return (sql.execute("SELECT member_id, what, at, log_idx FROM receipts "
                        "WHERE share_id=?", (share_id,)).fetchall(),
            sql.execute("SELECT at, key, log_idx FROM recalls WHERE share_id=?",
                        (share_id,)).fetchone(),
            sql.execute("SELECT member_id, added FROM inbox WHERE share_id=?",
                        (share_id,)).fetchall(),
            sql.execute("SELECT member_id, not_before FROM share_delays "
                        "WHERE share_id=?", (share_id,)).fetchall())


# -- recalls -------------------------------------------------------------------------------

def recall_of(sql: Sql, share_id: str) -> tuple[str, str, int] | None:
    """``(at, key, log index)`` of a share's recall, or None."""
    row = sql.execute("SELECT at, key, log_idx FROM recalls WHERE share_id=?",
                      (share_id,)).fetchone()
    return None if row is None else (str(row[0]), str(row[1]), int(row[2]))


def add_recall(sql: Sql, share_id: str, originator: str, at: str, key: str,
               log_index: int) -> None:
    sql.execute("INSERT INTO recalls(share_id, originator, at, key, log_idx) "
                "VALUES(?,?,?,?,?)", (share_id, originator, at, key, log_index))


# -- removing a share's content ------------------------------------------------------------

def secure_delete(sql: Sql) -> int | None:
    """SQLite: overwrite the content that the next statements remove (and say what the
    setting was, to restore it)."""
    if sql.dialect != "sqlite":
        return None
    prev = int(sql.execute("PRAGMA secure_delete").fetchone()[0])
    sql.execute("PRAGMA secure_delete=1")
    return prev


def restore_secure_delete(sql: Sql, prev: int | None) -> None:
    if prev is not None and prev != 1:
        sql.execute(f"PRAGMA secure_delete={int(prev)}")


def clear_payload(sql: Sql, share_id: str, flag: str) -> bool:
    """Set ``flag`` (``recalled`` or ``purged``) and remove the share's payload and
    wraps; False if the share is purged already."""
    if flag not in ("recalled", "purged"):
        raise ValueError(flag)
    cur = sql.execute(
        f"UPDATE shares SET {flag}=?, payload=NULL, payload_ref=NULL, wraps=? "
        "WHERE id=? AND purged=?", (True, NO_WRAPS, share_id, False))
    return bool(cur.rowcount)


def drop_inbox_rows(sql: Sql, share_id: str) -> None:
    sql.execute("DELETE FROM inbox WHERE share_id=?", (share_id,))


def unpurged(sql: Sql, share_id: str) -> tuple[str, bytes] | None:
    """``(originator, header)`` of a share not purged yet, or None."""
    row = sql.execute("SELECT originator, header FROM shares WHERE id=? AND purged=?",
                      (share_id, False)).fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]))


def expired(sql: Sql, now: str, limit: int) -> list[str]:
    """Ids of shares whose expiry has passed and that are not purged yet, soonest
    expired first."""
    rows = sql.execute(
        "SELECT id FROM shares WHERE purged=? AND expires<=? ORDER BY expires LIMIT ?",
        (False, now, limit)).fetchall()
    return [str(r[0]) for r in rows]


def scrub(store: Store) -> bool:
    """SQLite: checkpoint the write-ahead log and truncate it, so the page images that
    held removed payloads leave the WAL file (the database file's own pages were
    overwritten by ``secure_delete``). PostgreSQL keeps old row versions until VACUUM
    reuses their space (docs/accountability.md). True if the WAL was emptied."""
    path = getattr(store, "path", None)
    if store.dialect != "sqlite" or not isinstance(path, str) or path == ":memory:":
        return False
    with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
        for _ in range(20):
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return True
            time.sleep(0.05)
    log.warning("the SQLite WAL stayed busy; removed payload pages leave it at the next "
                "checkpoint")
    return False
