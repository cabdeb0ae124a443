"""The shared Store: PostgreSQL through psycopg 3 and a connection pool.

Semantics mirror :class:`vigil.storage.sqlite.SqliteStore` exactly (same schema from
``schema.MIGRATIONS``, same Conflict codes, same directory cache keyed by the meta row
``dir_version``). What differs is concurrency: several threads, worker processes and
hosts write at once, so

* ``migrate`` runs under ``pg_advisory_xact_lock`` so workers starting together apply
  each migration once;
* ``put_share`` takes one transaction-scoped advisory lock before it writes, so shares
  and inbox rows get their ``seq`` values and commit in the same order. Identity values
  are handed out before commit; without the lock a reader could see seq 11 committed
  while seq 10 is still in flight, move its cursor past 10 and never see it. With the
  lock, a row becomes visible only after every row with a smaller seq is visible (the
  lock is released after the commit is visible), so following a cursor loses nothing;
* a lost connection or an unreachable server is reported as
  ``Unavailable(code="store.unavailable")`` (HTTP 503), never as a crash. A statement
  that fails because its pooled connection had died (server restart, failover,
  ``pg_terminate_backend``) is retried once on a fresh connection when nothing can have
  been committed; the pool reconnects on its own when the server is back.

Extra URL query parameters, removed before the URL reaches libpq: ``pool_min``
(default 1), ``pool_max`` (default 8) and ``pool_timeout`` (seconds a call waits for a
pooled connection before answering 503, default 5). Every other parameter is libpq's
(e.g. ``target_session_attrs=read-write`` with several hosts for failover).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed, PoolTimeout

from vigil.errors import ConfigError, Conflict, Unavailable, VigilError
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
    SHARE_LOCK,
    ShareToPut,
    Sql,
    build_directory,
    distribute_refs,
    envelope_from_row,
    header_bytes,
    same_share,
    wraps_to_bytes,
)
from vigil.storage.common import SqlStore
from vigil.storage.schema import MIGRATIONS, render

log = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.Connection[TupleRow]


class _Sql:
    dialect: Literal["postgresql"] = "postgresql"

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[TupleRow]:
        return self._conn.execute(sql.replace("?", "%s"), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), rows)

    def payload(self, stored: bytes | None, ref: str | None) -> bytes | None:
        return None if stored is None else bytes(stored)  # payloads stay in their rows

    def drop_payload(self, ref: str) -> None:
        return None


Mode = Literal["read", "snapshot", "write", "idempotent"]

# Key of the migration lock (bigint; ASCII "vigil_mg"); SHARE_LOCK is in base.py.
MIGRATE_LOCK = 0x76696769_6C5F6D67

_POOL_PARAMS = ("pool_min", "pool_max", "pool_timeout")
# libpq settings used unless the URL gives its own.
_LIBPQ_DEFAULTS: dict[str, str] = {
    "application_name": "vigil",
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "10000",  # ms: a server that vanished fails a query in 10 s
}


def split_url(url: str) -> tuple[str, dict[str, float]]:
    """libpq conninfo (with vigil's defaults) and the pool settings of a store URL."""
    base, _, query = url.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    pool: dict[str, float] = {"pool_min": 1, "pool_max": 8, "pool_timeout": 5.0}
    rest = []
    for key, value in pairs:
        if key in _POOL_PARAMS:
            try:
                pool[key] = float(value)
            except ValueError:
                raise ConfigError(
                    f"store URL: {key} wants a number, got {value!r}", code="config.store_url"
                ) from None
        else:
            rest.append((key, value))
    if not (1 <= pool["pool_min"] <= pool["pool_max"]) or pool["pool_timeout"] <= 0:
        raise ConfigError(
            "store URL: need 1 <= pool_min <= pool_max and pool_timeout > 0",
            code="config.store_url",
        )
    clean = base + ("?" + urlencode(rest) if rest else "")
    try:
        params = conninfo_to_dict(clean)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"bad PostgreSQL URL: {exc}", code="config.store_url") from exc
    merged: dict[str, Any] = dict(_LIBPQ_DEFAULTS)
    merged.update({k: v for k, v in params.items() if v is not None})
    return make_conninfo("", **merged), pool


class PostgresStore(SqlStore):
    dialect: Literal["postgresql"] = "postgresql"
    unique_violation = psycopg.IntegrityError
    share_lock_timeout = 10.0
    """Seconds a publish waits for its turn to write before answering 503."""

    def __init__(self, url: str) -> None:
        self.url = url
        conninfo, pool = split_url(url)
        self._pool: ConnectionPool[Conn] = ConnectionPool(
            conninfo,
            min_size=int(pool["pool_min"]),
            max_size=int(pool["pool_max"]),
            timeout=pool["pool_timeout"],
            kwargs={"autocommit": True},
            # Give up a failing reconnect loop early: the next request then starts a
            # fresh one, so recovery after an outage is not delayed by a long backoff.
            reconnect_timeout=10.0,
            name="vigil-store",
            open=True,
        )
        self._dir_cache: tuple[str, Directory] | None = None
        self._conninfo = conninfo
        self._apool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] | None = None
        self.on_close: list[Callable[[], None]] = []

    # -- connections -------------------------------------------------------
    def _run(self, fn: Callable[[Conn], T], mode: Mode) -> T:
        """Run ``fn`` on a pooled connection: ``read`` as one autocommit statement,
        ``snapshot`` in a read-only REPEATABLE READ transaction, ``write`` in a
        transaction that is committed (durably) before this returns, ``idempotent``
        as is (``fn`` makes its own transaction and may safely run twice)."""
        for attempt in (1, 2):
            conn: Conn | None = None
            committing = False
            try:
                with self._pool.connection() as conn:
                    try:
                        if mode in ("read", "idempotent"):
                            return fn(conn)
                        with conn.transaction():
                            if mode == "snapshot":
                                conn.execute(
                                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                                )
                            result = fn(conn)
                            committing = True
                        return result
                    except psycopg.errors.ReadOnlySqlTransaction:
                        # Connected to a standby (e.g. after a failover): close this
                        # connection so the pool opens a new one, to the new primary
                        # when the URL asks for target_session_attrs=read-write.
                        conn.close()
                        raise
            except (PoolTimeout, PoolClosed) as exc:
                raise _unavailable(exc, unsure=False) from exc
            except (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.LockNotAvailable) as exc:
                raise _unavailable(exc, unsure=False) from exc
            except psycopg.OperationalError as exc:
                lost = conn is not None and conn.broken
                if lost and attempt == 1 and (mode != "write" or not committing):
                    # Nothing was committed: the pooled connection had died (server
                    # restart, failover, pg_terminate_backend). Drop the dead ones
                    # and try once more on a fresh connection.
                    log.info("store connection lost (%s); retrying once", exc)
                    with contextlib.suppress(psycopg.Error):
                        self._pool.check()
                    continue
                unsure = mode == "idempotent" or (mode == "write" and committing)
                raise _unavailable(exc, unsure=unsure) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        for stop in self.on_close:  # background work on this store ends first
            stop()
        self._pool.close()

    # -- the push path, on the event loop -------------------------------------------
    async def push_reads(
        self, requests: Sequence[tuple[str, int]], limit: int,
        missing: Callable[[list[str]], list[str]],
    ) -> tuple[Directory | None, list[list[tuple[InboxEntry, ShareState]]],
               dict[str, tuple[Envelope, ShareState, tuple[int, bytes, bytes] | None]]] | None:
        """What every stream a share wakes needs, read on the event loop with no thread
        hop: (the cached directory if still current, else None; ``inbox_refs_many``;
        and, for the share ids ``missing`` names among those, their envelopes with
        their log entry's index, root and proof). Two round trips at most: the
        directory version and the inbox rows in one pipeline, then the shares. None
        when the batch is too big for one read (the caller reads the usual way)."""
        members = sorted({m for m, _ in requests})
        low = min(a for _, a in requests)
        cap = limit * len(requests)
        try:
            pool = await self._async_pool()
            async with pool.connection() as conn:
                async with conn.pipeline():
                    c1 = await conn.execute(
                        "SELECT value FROM meta WHERE key='dir_version'")
                    c2 = await conn.execute(_INBOX_REFS_MANY, (members, low, cap))
                vrow = await c1.fetchone()
                rows = await c2.fetchall()
                if len(rows) == cap:
                    return None
                want = missing(sorted({str(r[2]) for r in rows}))
                shares: dict[str, tuple[Envelope, ShareState,
                                        tuple[int, bytes, bytes] | None]] = {}
                if want:
                    c3 = await conn.execute(
                        "SELECT s.id, s.header, s.signature, s.payload, s.wraps, s.recalled, "
                        "s.purged, l.idx, l.root, l.proof FROM shares s LEFT JOIN log_leaves l "
                        "ON l.share_id = s.id AND l.kind = 'share' WHERE s.id = ANY(%s)",
                        (want,))
                    for r in await c3.fetchall():
                        log_row = None if r[7] is None else (int(r[7]), bytes(r[8]),
                                                             bytes(r[9]))
                        shares[str(r[0])] = (envelope_from_row(*_bytes(r[1:5])),
                                             ShareState(bool(r[5]), bool(r[6])), log_row)
        except (PoolTimeout, PoolClosed) as exc:
            raise _unavailable(exc, unsure=False) from exc
        except psycopg.OperationalError as exc:
            raise _unavailable(exc, unsure=False) from exc
        cached = self._dir_cache
        directory = cached[1] if cached is not None and vrow is not None \
            and cached[0] == vrow[0] else None
        out = distribute_refs(requests, rows, limit)
        return directory, out, shares

    async def _async_pool(self) -> AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]]:
        if self._apool is None:
            _, pool = split_url(self.url)
            apool: AsyncConnectionPool[psycopg.AsyncConnection[TupleRow]] = \
                AsyncConnectionPool(self._conninfo, min_size=1, max_size=2,
                                    timeout=pool["pool_timeout"],
                                    kwargs={"autocommit": True}, reconnect_timeout=10.0,
                                    name="vigil-push", open=False)
            await apool.open()
            if self._apool is None:
                self._apool = apool
            else:  # another task opened one meanwhile
                await apool.close()
        return self._apool

    async def aclose(self) -> None:
        if self._apool is not None:
            await self._apool.close()
            self._apool = None

    # -- schema --------------------------------------------------------------
    def migrate(self) -> None:
        def step(conn: Conn) -> bool:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            version = 0
            if conn.execute("SELECT to_regclass('meta')").fetchone() != (None,):
                row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                version = int(row[0]) if row else 0
            if version >= len(MIGRATIONS):
                return False
            for stmt in MIGRATIONS[version]:
                if sql := render(stmt, "postgresql"):
                    conn.execute(sql)
            conn.execute(
                "INSERT INTO meta(key, value) VALUES('schema_version', %s) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (str(version + 1),),
            )
            conn.execute(
                "INSERT INTO meta(key, value) VALUES('dir_version', '0') "
                "ON CONFLICT(key) DO NOTHING"
            )
            return True

        # One transaction per migration, each under the lock, as in SQLite.
        while self._run(step, "write"):
            pass

    # -- feature SQL -----------------------------------------------------------
    def write(self, fn: Callable[[Sql], T]) -> T:
        return self._run(lambda conn: fn(_Sql(conn)), "write")

    def read(self, fn: Callable[[Sql], T]) -> T:
        return self._run(lambda conn: fn(_Sql(conn)), "snapshot")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._run(lambda c: c.execute(sql.replace("?", "%s"), params).fetchall(),
                         "read")

    def _payload(self, stored: bytes | None, ref: str | None) -> bytes | None:
        return None if stored is None else bytes(stored)  # payloads stay in their rows

    # -- the directory (members and channels) ---------------------------------
    def directory(self) -> Directory:
        row = self._run(
            lambda c: c.execute("SELECT value FROM meta WHERE key='dir_version'").fetchone(),
            "read",
        )
        cached = self._dir_cache
        if cached is not None and row is not None and cached[0] == row[0]:
            return cached[1]
        version, d = self._run(self._load_directory, "snapshot")
        self._dir_cache = (version, d)
        return d

    @staticmethod
    def _load_directory(conn: Conn) -> tuple[str, Directory]:
        vrow = conn.execute("SELECT value FROM meta WHERE key='dir_version'").fetchone()
        version = "" if vrow is None else str(vrow[0])
        d = build_directory(conn.execute(MEMBER_COLUMNS).fetchall(),
                            conn.execute(CHANNEL_COLUMNS).fetchall(),
                            conn.execute(CHANNEL_MEMBER_COLUMNS).fetchall())
        return version, d

    # -- shares ----------------------------------------------------------------
    def put_share(self, env: Envelope, recipients: Sequence[str], at: str,
                  also: Callable[[Sql], None] | None = None) -> bool:
        hdr = header_bytes(env.header)
        wraps = wraps_to_bytes(env.wraps)
        members = list(recipients)
        attempts = 0

        def fn(conn: Conn) -> bool:
            nonlocal attempts
            attempts += 1
            # One round trip: BEGIN, the lock, the share with its inbox rows and COMMIT go
            # out as one pipeline with a single sync, so the server runs them back to
            # back. The lock serializes share writers until their commit is visible (seq
            # order is commit order), and is never held while waiting on the network or
            # on this process. A share id already stored inserts nothing (ON CONFLICT DO
            # NOTHING; the inbox rows come from the inserted row).
            try:
                with conn.pipeline():
                    conn.execute("BEGIN")
                    conn.execute(
                        "SELECT set_config('lock_timeout', %s, true)",
                        (f"{int(self.share_lock_timeout * 1000)}ms",),
                    )
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SHARE_LOCK,))
                    cur = conn.execute(_PUT_SHARE, (
                        env.id, env.originator, hdr, env.signature, env.payload, wraps,
                        env.created, env.expires, members, at,
                    ))
                    if also is None:
                        conn.execute("COMMIT")
                if also is not None:
                    # still under the lock: the extra writes (the share's log entry,
                    # its index rows) see every earlier share's and commit before any
                    # later one's. In pipeline mode, statements whose results nobody
                    # reads go out together with the COMMIT: one round trip for most
                    # of them, so the lock is held for less time.
                    new = cur.fetchone()
                    with conn.pipeline():
                        if new is not None and new[0]:
                            also(_Sql(conn))
                        conn.execute("COMMIT")
                    return _stored(conn, new)
            except BaseException:
                # An error skips the rest of the pipeline, COMMIT included.
                if not conn.broken and conn.info.transaction_status != TransactionStatus.IDLE:
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                raise
            return _stored(conn, cur.fetchone())

        def _stored(conn: Conn, row: Any) -> bool:
            if row is not None and row[0]:
                return True
            old = conn.execute(
                "SELECT header, signature, payload, wraps FROM shares WHERE id=%s", (env.id,)
            ).fetchone()
            if old is not None and same_share(envelope_from_row(*_bytes(old)), env):
                # After a retry the first attempt may have committed before its
                # connection was lost: report the share as stored by this call.
                return attempts > 1
            raise Conflict("a different share with this id exists", code="share.id_conflict")

        return self._run(fn, "idempotent")

    def put_shares(self, shares: Sequence[ShareToPut], at: str) -> list[bool | VigilError]:
        """One transaction per share here (``put_share``: a single round trip each,
        under the write-order lock for as short a time as it can be)."""
        out: list[bool | VigilError] = []
        for env, recipients, also in shares:
            try:
                out.append(self.put_share(env, recipients, at, also))
            except VigilError as exc:
                out.append(exc)
        return out

    def inbox_refs_many(
        self, requests: Sequence[tuple[str, int]], limit: int
    ) -> list[list[tuple[InboxEntry, ShareState]]]:
        if len(requests) <= 2:
            return [self.inbox_refs(member, after, limit) for member, after in requests]
        members = sorted({m for m, _ in requests})
        low = min(a for _, a in requests)
        cap = limit * len(requests)
        rows = self._run(
            lambda c: c.execute(_INBOX_REFS_MANY, (members, low, cap)).fetchall(),
            "read",
        )
        out = distribute_refs(requests, rows, limit)
        if len(rows) == cap:
            # the cap may have cut some cursors short: let each read on by itself
            for k, (member, after) in enumerate(requests):
                if len(out[k]) < limit:
                    out[k] = self.inbox_refs(member, after, limit)
        return out


# Each member's positions rise with seq (every inbox write holds SHARE_LOCK), so seq
# order is every member's own order; ``pos > lowest cursor`` keeps what any asks for.
_INBOX_REFS_MANY = (
    "SELECT i.pos, i.member_id, i.share_id, i.added, s.recalled, s.purged "
    "FROM inbox i JOIN shares s ON s.id = i.share_id "
    "WHERE i.member_id = ANY(%s) AND i.pos > %s ORDER BY i.seq LIMIT %s"
)

_PUT_SHARE = """
WITH s AS (
    INSERT INTO shares(id, originator, header, signature, payload, wraps, created, expires,
                       recalled, purged)
    VALUES(%s, %s, %s, %s, %s, %s, %s, %s, FALSE, FALSE)
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), h AS (
    -- each recipient's next inbox position (``queue_inbox``, set-based)
    INSERT INTO cursor_heads(member_id, stream, head)
    SELECT DISTINCT u.m, 'inbox', 1 FROM s CROSS JOIN unnest(%s::text[]) AS u(m)
    ON CONFLICT (member_id, stream) DO UPDATE SET head = cursor_heads.head + 1
    RETURNING member_id, head
), i AS (
    INSERT INTO inbox(member_id, share_id, added, pos)
    SELECT h.member_id, s.id, %s, h.head FROM s CROSS JOIN h ORDER BY h.member_id
)
SELECT count(*) FROM s
"""


def _bytes(values: Sequence[Any]) -> tuple[Any, ...]:
    """BYTEA columns as bytes (psycopg may hand out memoryview); NULL stays None."""
    return tuple(None if v is None else bytes(v) for v in values)


def _unavailable(exc: BaseException, *, unsure: bool) -> Unavailable:
    log.warning("store unavailable: %s: %s", type(exc).__name__, exc)
    if unsure:
        message = (
            "the database became unavailable during the write: it may or may not have been "
            "stored; try again"
        )
    else:
        message = "the database is unavailable; nothing was changed, try again"
    return Unavailable(message, code="store.unavailable")
