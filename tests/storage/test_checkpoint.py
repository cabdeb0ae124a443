"""WAL checkpoints of the SQLite store in a thread of their own (``vigil.storage.checkpoint``):
the writer never checkpoints inside a commit; the checkpointer lets writes gather in the WAL
until it holds its bound, then moves them into the database file."""

from __future__ import annotations

from pathlib import Path

from vigil.storage.sqlite import SqliteStore


def test_checkpoints_run_outside_the_writers_commits(tmp_path: Path) -> None:
    # the writer never checkpoints inside a COMMIT (other writers would wait behind
    # the copy); the store's checkpointer moves committed pages into the database file
    import os
    import time

    path = tmp_path / "v.db"
    store = SqliteStore(f"sqlite:///{path}")
    try:
        store.migrate()
        assert store._writer.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        before = path.stat().st_size
        blob = os.urandom(2 << 20)  # under SQLite's own threshold (1,000 pages)
        store.write(
            lambda sql: sql.execute("INSERT INTO meta(key, value) VALUES(?, ?)", ("blob", blob))
        )
        cp = store._checkpoints
        assert cp is not None
        deadline = time.monotonic() + 30
        while (
            cp.runs < 1 or path.stat().st_size < before + len(blob)
        ) and time.monotonic() < deadline:  # (the file grows while a checkpoint runs)
            time.sleep(0.05)
        assert cp.runs >= 1 and path.stat().st_size >= before + len(blob)
        assert (
            store.read(
                lambda sql: sql.execute("SELECT value FROM meta WHERE key='blob'").fetchone()[0]
            )
            == blob
        )
    finally:
        store.close()


def test_writes_gather_in_the_wal_until_it_is_full(tmp_path: Path) -> None:
    # while writes keep coming, no checkpoint until the WAL holds wal_bytes; then one,
    # and the WAL starts over
    import os
    import sqlite3
    import time

    from vigil.storage.checkpoint import Checkpointer

    path = tmp_path / "w.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "wal_autocheckpoint=0", "journal_size_limit=0"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE t(v BLOB)")
    cp = Checkpointer(str(path), interval=0, wal_bytes=1 << 20, idle=600)
    try:
        for i in range(20):
            conn.execute("INSERT INTO t VALUES(?)", (bytes(100 + i),))
            cp.written()
        assert cp.runs == 0
        wal = Path(str(path) + "-wal")
        conn.execute("INSERT INTO t VALUES(?)", (os.urandom(2 << 20),))
        cp.written()
        deadline = time.monotonic() + 30
        while cp.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cp.runs == 1
        conn.execute("INSERT INTO t VALUES(?)", (b"after",))  # the WAL starts over
        assert wal.stat().st_size < 1 << 20
    finally:
        cp.close()
        conn.close()
