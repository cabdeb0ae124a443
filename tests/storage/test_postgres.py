"""PostgreSQL-only behaviour: cursor safety under concurrent writers, concurrent
migrations, 503 on outages and recovery, several workers on one database."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from tests.storage.conftest import envelope, member

from vigil.errors import ConfigError, Unavailable
from vigil.storage.schema import schema_version

psycopg = pytest.importorskip("psycopg")
postgres = pytest.importorskip("vigil.storage.postgres")
PostgresStore = postgres.PostgresStore

pytestmark = pytest.mark.service

T = TypeVar("T")


@pytest.fixture
def store(pg_url: str) -> Iterator[Any]:
    s = PostgresStore(pg_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def admin(pg_url: str) -> Iterator[Any]:
    conn = psycopg.connect(pg_url, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def _dbname(url: str) -> str:
    return url.rpartition("/")[2].partition("?")[0]


def _terminate_backends(admin: Any, url: str) -> int:
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (_dbname(url),),
    ).fetchall()
    return len(rows)


def _eventually(fn: Callable[[], T], within: float = 8.0) -> tuple[T, int]:
    """Call fn until it stops raising Unavailable; return its value and the failures."""
    failures = 0
    deadline = time.monotonic() + within
    while True:
        try:
            return fn(), failures
        except Unavailable as exc:
            assert exc.code == "store.unavailable" and exc.status == 503
            failures += 1
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# -- URL -----------------------------------------------------------------------------

def test_url_pool_settings_are_removed_before_libpq() -> None:
    conninfo, pool = postgres.split_url(
        "postgresql://u@db1:5432,db2:5432/vigil?pool_max=16&pool_timeout=2.5"
        "&target_session_attrs=read-write&application_name=hub"
    )
    assert pool == {"pool_min": 1, "pool_max": 16, "pool_timeout": 2.5}
    assert "pool_" not in conninfo
    assert "host=db1,db2" in conninfo and "target_session_attrs=read-write" in conninfo
    assert "application_name=hub" in conninfo and "connect_timeout=5" in conninfo
    with pytest.raises(ConfigError):
        postgres.split_url("postgresql://u@h/db?pool_max=lots")
    with pytest.raises(ConfigError):
        postgres.split_url("postgresql://u@h/db?pool_min=4&pool_max=2")


# -- ordering --------------------------------------------------------------------------

def test_cursor_never_skips_under_concurrent_writers(store: Any) -> None:
    """Writers commit concurrently; a reader following the cursor must see every entry.

    Identity values are allocated before commit, so without serialization a reader can
    see seq N+1 committed before N and move its cursor past N for good."""
    a, b, c = member("a"), member("b"), member("c")
    for m in (a, b, c):
        store.add_member(m)
    writers, per_writer = 6, 40
    written: list[str] = []
    written_lock = threading.Lock()
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(per_writer):
                recipients = [b.id, c.id] if i % 2 else [c.id, b.id]
                env = envelope(a.id, recipients)
                assert store.put_share(env, recipients, "t") is True
                with written_lock:
                    written.append(env.id)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    seen: list[str] = []
    seqs: list[int] = []

    def follow() -> None:
        cursor = 0
        try:
            while True:
                finished = done.is_set()  # read before the page: a final pass after it
                page = store.inbox(b.id, cursor, 50)
                for entry, _env, _state in page:
                    seqs.append(entry.seq)
                    seen.append(entry.share_id)
                if page:
                    cursor = page[-1][0].seq
                elif finished:
                    return
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    reader = threading.Thread(target=follow)
    threads = [threading.Thread(target=write) for _ in range(writers)]
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join(timeout=30)
    assert not reader.is_alive()
    assert errors == []
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len(written) == writers * per_writer
    missing = set(written) - set(seen)
    assert not missing, f"the cursor skipped {len(missing)} committed entries"
    assert len(seen) == len(written)
    # the sent list (shares.seq) is ordered by commit too
    assert [e.id for _, e, _ in store.sent(a.id, 0, 1000)] == seen


def test_concurrent_migrations_apply_once(pg_empty_url: str) -> None:
    stores = [PostgresStore(pg_empty_url) for _ in range(4)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(stores))

    def migrate(s: Any) -> None:
        try:
            barrier.wait()
            s.migrate()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert all(s.get_meta("schema_version") == str(schema_version()) for s in stores)
        assert stores[0].get_meta("dir_version") == "0"
    finally:
        for s in stores:
            s.close()


def test_two_workers_share_one_directory(pg_url: str) -> None:
    w1, w2 = PostgresStore(pg_url), PostgresStore(pg_url)
    try:
        w1.migrate()
        w2.migrate()
        a, b = member("a"), member("b")
        w1.add_member(a)
        d = w2.directory()
        assert set(d.members) == {a.id}
        assert w2.directory() is d  # unchanged: served from the cache
        w1.add_member(b)  # the other worker's change bumps dir_version
        assert set(w2.directory().members) == {a.id, b.id}
        w1.set_member_active(b.id, False)
        assert not w2.directory().members[b.id].active
        env = envelope(a.id, [b.id], b"\x00\xffbytes")
        assert w1.put_share(env, [b.id], "t") is True
        assert w2.put_share(env, [b.id], "t") is False
        got = w2.get_share(env.id)
        assert got is not None and isinstance(got[0].payload, bytes)
        assert got[0] == env
        assert isinstance(got[0].wraps[0].blob, bytes) and got[0].signature == b"sig"
    finally:
        w1.close()
        w2.close()


# -- outages ---------------------------------------------------------------------------

def test_terminated_backends_recover(store: Any, admin: Any, pg_url: str) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    first = envelope(a.id, [b.id])
    store.put_share(first, [b.id], "t")

    # fill the pool with several idle connections, then kill them all
    def touch() -> None:
        for _ in range(20):
            store.inbox(b.id, 0, 10)

    threads = [threading.Thread(target=touch) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _terminate_backends(admin, pg_url) >= 1

    env = envelope(a.id, [b.id])
    ok, failures = _eventually(lambda: store.put_share(env, [b.id], "t"))
    assert ok is True and failures <= 1
    assert _eventually(lambda: [r[1].id for r in store.inbox(b.id, 0, 10)])[0] == [
        first.id, env.id]

    _terminate_backends(admin, pg_url)
    value, failures = _eventually(lambda: store.get_meta("schema_version"))
    assert value == str(schema_version()) and failures <= 1
    _terminate_backends(admin, pg_url)
    d, failures = _eventually(store.directory)
    assert set(d.members) == {a.id, b.id} and failures <= 1


def test_read_only_database_is_unavailable_not_an_error(
        store: Any, admin: Any, pg_url: str) -> None:
    """A standby (read-only) answers writes with 503 store.unavailable; once writable
    again, the next write works."""
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    db = _dbname(pg_url)
    admin.execute(f'ALTER DATABASE "{db}" SET default_transaction_read_only = on')
    try:
        _terminate_backends(admin, pg_url)  # new sessions pick up the setting
        env = envelope(a.id, [b.id])
        with pytest.raises(Unavailable) as info:
            store.put_share(env, [b.id], "t")
        assert info.value.code == "store.unavailable" and info.value.status == 503
        assert store.get_share(env.id) is None  # reads still work
    finally:
        admin.execute(f'ALTER DATABASE "{db}" RESET default_transaction_read_only')
    _terminate_backends(admin, pg_url)
    ok, _ = _eventually(lambda: store.put_share(env, [b.id], "t"))
    assert ok is True


def test_a_publish_waits_for_its_turn_at_most_share_lock_timeout(
        store: Any, pg_url: str) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    store.share_lock_timeout = 0.3
    env = envelope(a.id, [b.id])
    with psycopg.connect(pg_url) as other:  # another writer stuck inside its transaction
        other.execute("SELECT pg_advisory_xact_lock(%s)", (postgres.SHARE_LOCK,))
        t0 = time.monotonic()
        with pytest.raises(Unavailable) as info:
            store.put_share(env, [b.id], "t")
        assert info.value.code == "store.unavailable"
        assert "nothing was changed" in info.value.message
        assert 0.25 < time.monotonic() - t0 < 3
        other.rollback()
    assert store.put_share(env, [b.id], "t") is True


class _Proxy:
    """A TCP proxy to PostgreSQL that can be cut (refusing and dropping connections)
    and restored on the same port: the database "goes away" without stopping it."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.up()

    def up(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        self.port = ls.getsockname()[1]
        ls.listen(64)
        ls.settimeout(0.05)
        self._listener = ls
        t = threading.Thread(target=self._accept, args=(ls,), daemon=True)
        t.start()
        self._threads.append(t)

    def down(self) -> None:
        ls, self._listener = self._listener, None
        if ls is not None:
            ls.close()
        with self._lock:
            socks, self._socks = self._socks, set()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for t in self._threads:
            t.join(timeout=2)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _accept(self, ls: socket.socket) -> None:
        while self._listener is ls:
            try:
                client, _ = ls.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=3)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self._socks |= {client, server}
            for src, dst in ((client, server), (server, client)):
                t = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


def test_database_outage_answers_503_and_recovers(pg_url: str) -> None:
    from urllib.parse import urlsplit

    u = urlsplit(pg_url)
    proxy = _Proxy((u.hostname or "127.0.0.1", u.port or 5432))
    url = f"postgresql://{u.username}@127.0.0.1:{proxy.port}{u.path}?pool_timeout=1"
    s = PostgresStore(url)
    try:
        s.migrate()
        a, b = member("a"), member("b")
        s.add_member(a)
        s.add_member(b)
        before = envelope(a.id, [b.id])
        assert s.put_share(before, [b.id], "t") is True

        proxy.down()
        lost = envelope(a.id, [b.id])
        t0 = time.monotonic()
        with pytest.raises(Unavailable) as info:
            s.put_share(lost, [b.id], "t")
        assert info.value.code == "store.unavailable" and info.value.status == 503
        with pytest.raises(Unavailable):
            s.inbox(b.id, 0, 10)
        assert time.monotonic() - t0 < 5  # bounded by pool_timeout, not hanging

        proxy.up()
        rows, _ = _eventually(lambda: s.inbox(b.id, 0, 10))
        assert [r[1].id for r in rows] == [before.id]  # nothing acknowledged was lost
        after = envelope(a.id, [b.id])
        assert _eventually(lambda: s.put_share(after, [b.id], "t"))[0] is True
        assert s.get_share(lost.id) is None
    finally:
        s.close()
        proxy.down()

