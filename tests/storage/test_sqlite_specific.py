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
