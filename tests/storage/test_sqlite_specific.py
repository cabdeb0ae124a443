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
