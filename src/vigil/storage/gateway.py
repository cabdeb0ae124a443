"""The member-side gateway's own SQLite file (``vigil.gateway``): the objects of the
shares it opened, the shares withheld from TAXII, refusals, alerts, expiries and the
inbox cursor."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from vigil import clock

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS shares (
        share_id TEXT PRIMARY KEY,
        inbox_seq INTEGER NOT NULL,
        signer TEXT NOT NULL,
        added TEXT NOT NULL,
        objects INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS objects (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        object_id TEXT NOT NULL,
        type TEXT NOT NULL,
        version TEXT NOT NULL,
        spec_version TEXT NOT NULL,
        added TEXT NOT NULL,
        share_id TEXT NOT NULL,
        body BLOB NOT NULL,
        is_first INTEGER NOT NULL,
        is_last INTEGER NOT NULL,
        UNIQUE (object_id, version)
    )""",
    "CREATE INDEX IF NOT EXISTS objects_type ON objects(type, seq)",
    """CREATE TABLE IF NOT EXISTS withheld (
        share_id TEXT PRIMARY KEY,
        inbox_seq INTEGER NOT NULL,
        signer TEXT NOT NULL,
        reason TEXT NOT NULL,
        added TEXT NOT NULL,
        bundle BLOB NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS expiry (share_id TEXT PRIMARY KEY, expires TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS alerts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS refused (
        inbox_seq INTEGER PRIMARY KEY,
        share_id TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
]


# which version of an object is its first and its last, after one was added or removed
_FLAGS = ("UPDATE objects SET "
          "is_last = (version = (SELECT MAX(version) FROM objects o "
          "WHERE o.object_id = objects.object_id)), "
          "is_first = (version = (SELECT MIN(version) FROM objects o "
          "WHERE o.object_id = objects.object_id)) WHERE object_id = ?")


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


class GatewayDb:
    """The gateway's SQLite file: the opened objects, and the inbox cursor."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.touch(mode=0o600, exist_ok=True)  # plaintext: the member's eyes only
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._lock:
            for stmt in _SCHEMA:
                self._db.execute(stmt)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def cursor(self) -> int:
        """The last inbox seq handled (stored, refused or skipped)."""
        with self._lock:
            return int(self._meta("cursor") or 0)

    def _next_added(self) -> str:
        """Now, strictly after every earlier share's time (so added_after never splits
        two shares that were stored in the same millisecond)."""
        now = clock.now()
        last = self._meta("last_added")
        if last is not None and now <= last:
            t = datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(milliseconds=1)
            now = clock.fmt(t.astimezone(UTC))
        return now

    def add_share(self, seq: int, share_id: str, signer: str,
                  objects: Iterable[dict[str, Any]], expires: str | None = None, *,
                  version: Callable[[dict[str, Any], str], str]) -> int:
        """Store one opened share's objects and move the cursor, in one transaction;
        returns how many object versions were new. ``version``: an object's version
        stamp, given the time it is added."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                self._expires(db, share_id, expires)
                added = self._next_added()
                new = 0
                for obj in objects:
                    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                        continue
                    stamp = version(obj, added)
                    cur = db.execute(
                        "INSERT INTO objects (object_id, type, version, spec_version, added, "
                        "share_id, body, is_first, is_last) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0) "
                        "ON CONFLICT (object_id, version) DO NOTHING",
                        (obj["id"], str(obj.get("type", "")), stamp,
                         str(obj.get("spec_version", "2.1")), added, share_id,
                         orjson.dumps(obj)))
                    if cur.rowcount == 1:
                        new += 1
                        db.execute(_FLAGS, (obj["id"],))
                db.execute("INSERT INTO shares (share_id, inbox_seq, signer, added, objects) "
                           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (share_id) DO NOTHING",
                           (share_id, seq, signer, added, new))
                self._set(db, "last_added", added)
                self._set(db, "cursor", str(seq))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return new

    def withhold(self, seq: int, share_id: str, signer: str, reason: str, bundle: bytes,
                 expires: str | None) -> None:
        """Keep a share its originator keeps with the member's own analysts (never
        served over TAXII), and move the cursor."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                self._expires(db, share_id, expires)
                db.execute("INSERT INTO withheld (share_id, inbox_seq, signer, reason, added, "
                           "bundle) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (share_id) DO NOTHING",
                           (share_id, seq, signer, reason, clock.now(), bundle))
                self._set(db, "cursor", str(seq))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    @staticmethod
    def _expires(db: sqlite3.Connection, share_id: str, expires: str | None) -> None:
        if expires is not None:
            db.execute("INSERT INTO expiry (share_id, expires) VALUES (?, ?) "
                       "ON CONFLICT (share_id) DO NOTHING", (share_id, expires))

    def withheld(self) -> list[dict[str, Any]]:
        """The shares kept but not served: id, inbox seq, signer, why, when."""
        with self._lock:
            rows = self._db.execute("SELECT share_id, inbox_seq, signer, reason, added "
                                    "FROM withheld ORDER BY inbox_seq").fetchall()
        return [{"share": r[0], "inbox_seq": r[1], "signer": r[2], "reason": r[3],
                 "added": r[4]} for r in rows]

    def alert(self, code: str, message: str) -> None:
        """Note something the member must look at (a foreign key, a hostile node); the
        same alert again right after the last one is not noted twice."""
        with self._lock:
            last = self._db.execute(
                "SELECT code, message FROM alerts ORDER BY id DESC LIMIT 1").fetchone()
            if last is None or tuple(last) != (code, message):
                self._db.execute("INSERT INTO alerts (code, message, at) VALUES (?, ?, ?)",
                                 (code, message, clock.now()))

    def alerts(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT code, message, at FROM alerts ORDER BY id")
            return [{"code": r[0], "message": r[1], "at": r[2]} for r in rows.fetchall()]

    def meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta(key)

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._set(self._db, key, value)

    def expired(self, now: str) -> list[str]:
        """Shares held here whose expiry has passed."""
        with self._lock:
            return [str(r[0]) for r in self._db.execute(
                "SELECT share_id FROM expiry WHERE expires <= ?", (now,)).fetchall()]

    def refuse(self, seq: int, share_id: str, code: str, message: str) -> None:
        """Note a share that could not be verified or opened, and move past it."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO refused (inbox_seq, share_id, code, message, at) "
                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT (inbox_seq) DO NOTHING",
                       (seq, share_id, code, message, clock.now()))
            self._set(db, "cursor", str(seq))
            db.execute("COMMIT")

    def withdraw(self, seq: int | None, share_id: str) -> int:
        """Forget every copy of a share its originator recalled, the node purged or that
        expired (objects, a withheld bundle), and (with ``seq``) move past its inbox
        entry; returns how many object versions went."""
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                ids = [r[0] for r in db.execute(
                    "SELECT DISTINCT object_id FROM objects WHERE share_id = ?", (share_id,))]
                gone = db.execute("DELETE FROM objects WHERE share_id = ?", (share_id,)).rowcount
                for oid in ids:
                    db.execute(_FLAGS, (oid,))
                for table in ("shares", "withheld", "expiry"):
                    db.execute(f"DELETE FROM {table} WHERE share_id = ?", (share_id,))
                if seq is not None:
                    self._set(db, "cursor", str(seq))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return int(gone)

    @staticmethod
    def _set(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def counts(self) -> dict[str, int]:
        with self._lock:
            def one(q: str) -> int:
                return int(self._db.execute(q).fetchone()[0])
            return {"shares": one("SELECT COUNT(*) FROM shares"),
                    "objects": one("SELECT COUNT(*) FROM objects"),
                    "refused": one("SELECT COUNT(*) FROM refused"),
                    "withheld": one("SELECT COUNT(*) FROM withheld"),
                    "alerts": one("SELECT COUNT(*) FROM alerts"),
                    "cursor": int(self._meta("cursor") or 0)}

    def object_rows(self, after: int, added_after: str | None, filters: Sequence[
            tuple[str, Sequence[str]]], versions: Sequence[str], limit: int) -> list[Any]:
        """(seq, object id, type, version, spec version, added, body) of the objects after
        ``after``, added after ``added_after``, whose ``object_id``, ``type`` or
        ``spec_version`` column is among the values given, and whose version is one of
        ``versions`` ("all", "first", "last" or stamps); at most ``limit``."""
        where: list[str] = ["seq > ?"]
        params: list[Any] = [after]
        if added_after is not None:
            where.append("added > ?")
            params.append(added_after)
        for column, values in filters:
            if column not in ("object_id", "type", "spec_version"):
                raise ValueError(column)
            if values:
                where.append(f"{column} IN ({_marks(len(values))})")
                params += list(values)
        if "all" not in versions:
            ors = []
            if "last" in versions:
                ors.append("is_last = 1")
            if "first" in versions:
                ors.append("is_first = 1")
            stamps = [v for v in versions if v not in ("last", "first")]
            if stamps:
                ors.append(f"version IN ({_marks(len(stamps))})")
                params += stamps
            where.append("(" + " OR ".join(ors) + ")")
        with self._lock:
            return list(self._db.execute(
                "SELECT seq, object_id, type, version, spec_version, added, body FROM objects "
                f"WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?",
                [*params, limit]).fetchall())
