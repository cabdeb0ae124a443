"""The embedded default Store: SQLite in WAL mode with synchronous=FULL, one writer."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qs

from vigil.crypto.secretfile import owner_only_dir, owner_only_file
from vigil.errors import ConfigError, Conflict, VigilError
from vigil.model import (
    Directory,
    Envelope,
    InboxEntry,
    ShareState,
)
from vigil.storage.base import (
    CHANNEL_COLUMNS,
    CHANNEL_MEMBER_COLUMNS,
    MEMBER_COLUMNS,
    ShareToPut,
    Sql,
    build_directory,
    distribute_refs,
    envelope_from_row,
    header_bytes,
    queue_inbox,
    same_share,
    wraps_to_bytes,
)
from vigil.storage.checkpoint import Checkpointer
from vigil.storage.common import SqlStore
from vigil.storage.payloads import APART, PayloadFiles, payload_dir, referenced
from vigil.storage.schema import MIGRATIONS, render

CACHE_MIB = 16
"""Default bound of the writer connection's page cache (``?cache_mib=N`` on the URL,
the ``sqlite_cache_mib`` setting): memory the node keeps for pages it wrote and read,
filled as the database outgrows it and never past it. A page it drops is read again
from the file (the OS's page cache), and every page a commit changed is written to the
WAL whatever the bound, so a larger bound saves reads, not writes (64 MiB, the bound
before, grew a node by 64 MiB as its database passed that size)."""

SPILL_MIB = 64
"""A write transaction's changed pages stay in memory up to this many MiB, past the
cache's bound (``PRAGMA cache_spill``), before any is written to the WAL ahead of the
commit: a large share's pages are written once, at its commit. Pages past the cache's
bound are freed once the transaction ends."""


def _path_from_url(url: str) -> str:
    url = url.partition("?")[0]
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :] or ":memory:"
    if url.startswith("sqlite://"):
        return url[len("sqlite://") :] or ":memory:"
    return url


def _cache_mib(url: str) -> int:
    """``cache_mib`` of a ``sqlite:///PATH?cache_mib=N`` URL (default CACHE_MIB)."""
    query = parse_qs(url.partition("?")[2])
    try:
        mib = int(query.get("cache_mib", [CACHE_MIB])[-1])
    except ValueError:
        mib = -1
    if mib < 1:
        raise ConfigError("cache_mib in a SQLite store URL is a whole number of MiB >= 1",
                          code="config.store_url")
    return mib


T = TypeVar("T")

PAGE_SIZE = 1024
"""Bytes per page of a database this store creates (one made before keeps its own).
An insert into an index on random keys (object ids, observable keys) changes a page
of its own once the index outgrows the cache, and every commit writes each page it
changed to the WAL: small pages make that cost a quarter of SQLite's default 4 KiB."""


class _Sql:
    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, conn: sqlite3.Connection, files: PayloadFiles | None = None,
                 gone: list[str] | None = None) -> None:
        self._conn = conn
        self._files = files
        self._gone = gone

    def payload(self, stored: bytes | None, ref: str | None) -> bytes | None:
        if ref is None:
            return None if stored is None else bytes(stored)
        if self._files is None:
            raise RuntimeError("this connection reads no payload files")
        return self._files.read(ref)

    def drop_payload(self, ref: str) -> None:
        if self._gone is None:
            raise RuntimeError("payload files are removed in write transactions only")
        self._gone.append(ref)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)


class SqliteStore(SqlStore):
    dialect: Literal["sqlite"] = "sqlite"
    unique_violation = sqlite3.IntegrityError

    def __init__(self, url: str) -> None:
        self.url = url
        self.path = _path_from_url(url)
        if self.path != ":memory:":
            owner_only_dir(Path(self.path).parent)
            owner_only_file(self.path)  # and so its -wal and -shm files: 0600
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: dict[threading.Thread, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._writer = self._connect()
        # checkpoints happen outside the write lock (vigil.storage.checkpoint), and a
        # large share's pages stay in memory until its commit
        self._checkpoints: Checkpointer | None = None
        if self.path != ":memory:":
            self._writer.execute("PRAGMA wal_autocheckpoint=0")
            self._writer.execute(f"PRAGMA cache_size=-{_cache_mib(url) * 1024}")
            self._writer.execute(f"PRAGMA cache_spill=-{SPILL_MIB * 1024}")
            # a WAL checkpointed whole starts over empty: its size is what the writes
            # since the last checkpoint added (the checkpointer's measure)
            self._writer.execute("PRAGMA journal_size_limit=0")
            self._checkpoints = Checkpointer(self.path)
        self._dir_cache: tuple[str, Directory] | None = None
        self.on_close: list[Callable[[], None]] = []
        # large payloads live in files of their own (vigil.storage.payloads); the files
        # of payloads removed in the write transaction under way, removed at its commit
        self.files: PayloadFiles | None = None if self.path == ":memory:" else \
            PayloadFiles(payload_dir(self.path))
        self.apart = APART
        self._gone: list[str] = []

    # -- connections -------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # a new database only
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._close_readers(ended_only=True)
                self._readers[threading.current_thread()] = conn
        return conn

    def _close_readers(self, ended_only: bool) -> None:
        """Close the reader connections of threads that ended (or all of them). Pools
        start and end threads as load comes and goes (AnyIO's end after 10 s idle): a
        thread's connection, its page cache and its copy of the schema go with it."""
        for thread, conn in list(self._readers.items()):
            if not ended_only or not thread.is_alive():
                del self._readers[thread]
                conn.close()

    def reader_connections(self) -> int:
        """Reader connections open: at most one per live thread that has read."""
        with self._readers_lock:
            return len(self._readers)

    def _sql(self, conn: sqlite3.Connection) -> _Sql:
        return _Sql(conn, self.files, self._gone if conn is self._writer else None)

    def _payload(self, stored: bytes | None, ref: str | None) -> bytes | None:
        return _Sql(self._writer, self.files).payload(stored, ref)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                self._gone.clear()
                raise
            conn.execute("COMMIT")
            gone, self._gone[:] = list(self._gone), []
        if gone and self.files is not None:
            self.files.remove(gone)
        if self._checkpoints is not None:
            self._checkpoints.written()

    def close(self) -> None:
        for stop in self.on_close:  # background work on this store ends first
            stop()
        with self._lock:
            with self._readers_lock:
                self._close_readers(ended_only=False)
            if self._checkpoints is not None:
                self._checkpoints.close()
            self._writer.close()

    # -- schema --------------------------------------------------------------
    def migrate(self) -> None:
        with self._lock:
            has_meta = self._writer.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
            ).fetchone()
            version = 0
            if has_meta:
                row = self._writer.execute(
                    "SELECT value FROM meta WHERE key='schema_version'"
                ).fetchone()
                version = int(row[0]) if row else 0
            # foreign keys are off while a migration rebuilds a table (the pragma works
            # outside a transaction only), and checked before each commit
            self._writer.execute("PRAGMA foreign_keys=OFF")
            try:
                self._migrate_from(version)
            finally:
                self._writer.execute("PRAGMA foreign_keys=ON")
            if self.files is not None and self.files.directory.is_dir():
                # files of rows that never committed, or whose removal was cut short
                self.files.sweep(self.read(referenced))

    def _migrate_from(self, version: int) -> None:
        for i, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._tx() as conn:
                for stmt in migration:
                    if sql := render(stmt, "sqlite"):
                        conn.execute(sql)
                if conn.execute("PRAGMA foreign_key_check").fetchone() is not None:
                    raise RuntimeError(f"schema migration {i} breaks a foreign key")
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (str(i),),
                )
                conn.execute(
                    "INSERT INTO meta(key, value) VALUES('dir_version', '0') "
                    "ON CONFLICT(key) DO NOTHING"
                )

    # -- feature SQL -----------------------------------------------------------
    def write(self, fn: Callable[[Sql], T]) -> T:
        with self._tx() as conn:
            return fn(self._sql(conn))

    def read(self, fn: Callable[[Sql], T]) -> T:
        reader = self._reader()
        reader.execute("BEGIN")
        try:
            return fn(self._sql(reader))
        finally:
            reader.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._reader().execute(sql, params).fetchall()

    # -- the directory (members and channels) ---------------------------------
    def directory(self) -> Directory:
        reader = self._reader()
        version = reader.execute("SELECT value FROM meta WHERE key='dir_version'").fetchone()[0]
        cached = self._dir_cache
        if cached is not None and cached[0] == version:
            return cached[1]
        reader.execute("BEGIN")
        try:
            version = reader.execute(
                "SELECT value FROM meta WHERE key='dir_version'"
            ).fetchone()[0]
            d = build_directory(reader.execute(MEMBER_COLUMNS).fetchall(),
                                reader.execute(CHANNEL_COLUMNS).fetchall(),
                                reader.execute(CHANNEL_MEMBER_COLUMNS).fetchall())
        finally:
            reader.execute("COMMIT")
        self._dir_cache = (version, d)
        return d

    # -- shares ----------------------------------------------------------------
    def put_share(self, env: Envelope, recipients: Sequence[str], at: str,
                  also: Callable[[Sql], None] | None = None) -> bool:
        got = self.put_shares([(env, recipients, also)], at)[0]
        if isinstance(got, VigilError):
            raise got
        return got

    def put_shares(self, shares: Sequence[ShareToPut], at: str) -> list[bool | VigilError]:
        """``put_share`` for several shares in one transaction (one commit, one sync):
        each in a savepoint of its own, so that the refusal of one (a different share
        with its id, its ``also`` raising a ``VigilError``) stores nothing of it and
        the others still go."""
        refs: list[str | None] = []
        for env, _, _ in shares:
            ref = None
            if self.files is not None and len(env.payload) >= self.apart:
                # written and synced before the transaction, outside the write lock: the
                # transaction holds only the row (vigil.storage.payloads)
                self.files.ensure()
                ref = self.files.write(env.id, env.payload)
            refs.append(ref)
        # a payload file is kept if a row refers to it: a new row, or one stored
        # before (the same share again: the same file), whatever else is rolled back
        held = [ref is None for ref in refs]  # referred to by a row stored before
        written = [False] * len(shares)  # referred to by a row of this transaction
        out: list[bool | VigilError] = []
        try:
            with self._tx() as conn:
                for i, (env, recipients, also) in enumerate(shares):
                    conn.execute("SAVEPOINT share")
                    gone = len(self._gone)
                    try:
                        out.append(self._put_one(conn, env, recipients, at, also,
                                                 refs[i], held, i))
                        written[i] = out[-1] is True
                    except VigilError as exc:
                        conn.execute("ROLLBACK TO SAVEPOINT share")
                        del self._gone[gone:]
                        out.append(exc)
                    conn.execute("RELEASE SAVEPOINT share")
        except BaseException:
            written = [False] * len(shares)
            raise
        finally:
            dropped = [ref for ref, h, w in zip(refs, held, written, strict=True)
                       if ref is not None and not h and not w]
            if dropped and self.files is not None:
                self.files.remove(dropped)
        return out

    def _put_one(self, conn: sqlite3.Connection, env: Envelope, recipients: Sequence[str],
                 at: str, also: Callable[[Sql], None] | None, ref: str | None,
                 held: list[bool], i: int) -> bool:
        """One share of ``put_shares``: whether it is new (``held[i]``: its payload
        file is the one of the share already stored with its id)."""
        row = conn.execute(
            "SELECT header, signature, payload, wraps, payload_ref FROM shares "
            "WHERE id=?", (env.id,)
        ).fetchone()
        if row is not None:
            held[i] = held[i] or row[4] == ref
            if same_share(envelope_from_row(row[0], row[1], self._payload(
                    row[2], row[4]), row[3]), env):
                return False
            raise Conflict("a different share with this id exists",
                           code="share.id_conflict")
        conn.execute(
            "INSERT INTO shares(id, originator, header, signature, payload, wraps, "
            "created, expires, recalled, purged, payload_ref) "
            "VALUES(?,?,?,?,?,?,?,?,0,0,?)",
            (
                env.id,
                env.originator,
                header_bytes(env.header),
                env.signature,
                b"" if ref is not None else env.payload,
                wraps_to_bytes(env.wraps),
                env.created,
                env.expires,
                ref,
            ),
        )
        queue_inbox(self._sql(conn), env.id, recipients, at, new=True)
        if also is not None:
            also(self._sql(conn))
        return True

    def inbox_refs_many(
        self, requests: Sequence[tuple[str, int]], limit: int
    ) -> list[list[tuple[InboxEntry, ShareState]]]:
        if len(requests) <= 2:
            return [self.inbox_refs(member, after, limit) for member, after in requests]
        out: list[list[tuple[InboxEntry, ShareState]]] = [[] for _ in requests]
        for start in range(0, len(requests), 400):  # stay far below SQLite's term limits
            part = requests[start : start + 400]
            where = " OR ".join(["(i.member_id=? AND i.pos>?)"] * len(part))
            params: list[str | int] = [x for pair in part for x in pair]
            cap = limit * len(part)
            rows = self._reader().execute(
                # positions rise with seq for each member (one writer): seq order
                # is every member's own order
                "SELECT i.pos, i.member_id, i.share_id, i.added, s.recalled, s.purged "
                f"FROM inbox i JOIN shares s ON s.id = i.share_id WHERE {where} "
                "ORDER BY i.seq LIMIT ?",
                (*params, cap),
            ).fetchall()
            out[start : start + len(part)] = distribute_refs(part, rows, limit)
            if len(rows) == cap:
                # the cap may have cut some cursors short: let each read on by itself
                for k in range(start, start + len(part)):
                    if len(out[k]) < limit:
                        out[k] = self.inbox_refs(requests[k][0], requests[k][1], limit)
        return out
