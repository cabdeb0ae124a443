"""SQLite settings that make an acknowledged share durable."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.storage.base import Sql
from vigil.storage.sqlite import SqliteStore


def test_wal_and_synchronous_full_on_every_connection(tmp_path: Path) -> None:
    # kill -9 of the process cannot tell synchronous=FULL from OFF (the OS keeps the
    # page cache); a power loss can, so the settings themselves are checked here
    store = SqliteStore(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        store.migrate()
        for conn in (store._writer, store._reader()):
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        store.close()


def test_database_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    import stat

    store = SqliteStore(f"sqlite:///{tmp_path / 'new' / 'v.db'}")
    try:
        store.migrate()
        store.set_meta("probe", "1")
        made = [tmp_path / "new" / n for n in ("v.db", "v.db-wal", "v.db-shm")]
        assert all(p.exists() for p in made)
        assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in made} == \
            {p.name: 0o600 for p in made}
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    finally:
        store.close()


def test_a_second_store_in_the_process_keeps_the_wal_of_the_first(tmp_path: Path) -> None:
    """The server opens the database twice (a worker's own store); the CLI then opens and
    closes it beside the running server. The server's WAL must survive: had opening the
    second store dropped the first one's locks, the CLI would take itself for the last
    connection and delete the WAL (and the server's next connection fails)."""
    import subprocess
    import sys

    path = tmp_path / "v.db"
    first = SqliteStore(f"sqlite:///{path}")
    try:
        first.migrate()
        first.set_meta("probe", "1")
        second = SqliteStore(f"sqlite:///{path}")
        second.close()
        subprocess.run([sys.executable, "-c", "import sys; from vigil.storage.sqlite import "
                        "SqliteStore; s = SqliteStore(sys.argv[1]); s.get_meta('probe'); "
                        "s.close()", f"sqlite:///{path}"], check=True)
        assert (tmp_path / "v.db-wal").exists()
        first.set_meta("probe", "2")
        assert first._connect().execute(
            "SELECT value FROM meta WHERE key='probe'").fetchone()[0] == "2"
    finally:
        first.close()


def test_a_new_database_has_small_pages_and_one_made_before_keeps_its_own(
        tmp_path: Path) -> None:
    import sqlite3

    from vigil.storage.sqlite import PAGE_SIZE

    before = tmp_path / "before.db"
    conn = sqlite3.connect(before)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("CREATE TABLE probe(a)")
    conn.close()
    for path, size in ((tmp_path / "new.db", PAGE_SIZE), (before, 4096)):
        store = SqliteStore(f"sqlite:///{path}")
        try:
            store.migrate()
            assert store._writer.execute("PRAGMA page_size").fetchone()[0] == size
        finally:
            store.close()
    assert PAGE_SIZE == 1024


def test_the_writers_page_cache_is_bounded_by_the_setting(tmp_path: Path) -> None:
    import pytest

    from vigil.config import load_settings
    from vigil.errors import ConfigError

    def cache_kib(url: str) -> int:
        store = SqliteStore(url)
        try:
            return -int(store._writer.execute("PRAGMA cache_size").fetchone()[0])
        finally:
            store.close()
    default = load_settings(tmp_path / "a").store_url
    assert cache_kib(default) == 16 * 1024
    small = load_settings(tmp_path / "b", sqlite_cache_mib=8).store_url
    assert small.endswith("?cache_mib=8") and cache_kib(small) == 8 * 1024
    opened = SqliteStore(small)
    assert opened.path == str((tmp_path / "b" / "vigil.db").resolve())
    opened.close()
    with pytest.raises(ConfigError):
        SqliteStore(f"sqlite:///{tmp_path / 'c.db'}?cache_mib=0")


def test_put_shares_is_one_transaction_with_one_commit(tmp_path: Path) -> None:
    from tests.storage.conftest import envelope, member

    store = SqliteStore(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        store.migrate()
        a, b = member("a"), member("b")
        for m in (a, b):
            store.add_member(m)
        envs = [envelope(a.id, [b.id]) for _ in range(5)]
        statements: list[str] = []
        store._writer.set_trace_callback(statements.append)
        got = store.put_shares([(e, [b.id], None) for e in envs], "t")
        store._writer.set_trace_callback(None)
        assert got == [True] * 5
        assert [s for s in statements if s.startswith(("BEGIN", "COMMIT"))] == \
            ["BEGIN IMMEDIATE", "COMMIT"]
        assert [e.id for _, e, _ in store.inbox(b.id, 0, 10)] == [e.id for e in envs]

        more = [envelope(a.id, [b.id]) for _ in range(2)]

        def boom(sql: object) -> None:
            raise RuntimeError("abort")

        with pytest.raises(RuntimeError):
            store.put_shares([(more[0], [b.id], None), (more[1], [b.id], boom)], "t")
        assert store.get_share(more[0].id) is None  # rolled back with the other
    finally:
        store.close()


def test_a_reader_connection_ends_with_its_thread(tmp_path: Path) -> None:
    # thread pools end idle threads and start new ones: each thread that read had a
    # connection of its own (page cache, schema), which must not outlive the thread
    import threading

    store = SqliteStore(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        store.migrate()
        store.write(lambda sql: sql.execute("INSERT INTO meta(key, value) VALUES(?, ?)",
                                            ("k", "v")))

        def read() -> str:
            return str(store.read(lambda sql: sql.execute(
                "SELECT value FROM meta WHERE key='k'").fetchone()[0]))
        seen: list[str] = []
        for _ in range(20):  # one after the other, as a pool replaces idle threads
            t = threading.Thread(target=lambda: seen.append(read()))
            t.start()
            t.join()
        assert seen == ["v"] * 20
        assert store.reader_connections() == 1  # the last thread's, closed at the next
        assert read() == "v"  # this thread's; the ended threads' are closed
        assert store.reader_connections() == 1
        gate = threading.Barrier(3)

        def hold() -> None:
            seen.append(read())
            gate.wait()
            gate.wait()
        live = [threading.Thread(target=hold) for _ in range(2)]
        for t in live:
            t.start()
        gate.wait()  # both live threads read: theirs stay open beside this thread's
        assert store.reader_connections() == 3
        gate.wait()
        for t in live:
            t.join()
        assert seen[-2:] == ["v", "v"]
    finally:
        store.close()
    assert store.reader_connections() == 0


def test_a_transaction_past_the_cache_bound_is_written_at_its_commit(tmp_path: Path) -> None:
    # the writer's cache is small (sqlite_cache_mib); a transaction that changes more
    # pages than it holds keeps them in memory (up to SPILL_MIB) and writes them once,
    # at its commit, not to the WAL ahead of it
    import os

    from vigil.storage.sqlite import SPILL_MIB

    path = tmp_path / "v.db"
    store = SqliteStore(f"sqlite:///{path}?cache_mib=2")
    wal = Path(str(path) + "-wal")
    try:
        store.migrate()
        assert SPILL_MIB >= 16
        during: list[int] = []

        def big(sql: Sql) -> None:
            before = wal.stat().st_size if wal.exists() else 0
            for i in range(80):  # 8 MiB of pages: four times the cache's bound
                sql.execute("INSERT INTO meta(key, value) VALUES(?, ?)",
                            (f"blob{i}", os.urandom(100_000)))
            during.append((wal.stat().st_size if wal.exists() else 0) - before)
        store.write(big)
        assert during[0] < 1 << 20, during  # nothing spilled to the WAL before the commit
        assert store.read(lambda sql: sql.execute(
            "SELECT count(*) FROM meta WHERE key LIKE 'blob%'").fetchone()[0]) == 80
    finally:
        store.close()
