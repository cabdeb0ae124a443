"""SQLite settings that make an acknowledged share durable."""

from __future__ import annotations

from pathlib import Path

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
