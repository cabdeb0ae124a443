"""WAL checkpoints of the SQLite store in a thread of their own.

SQLite's automatic checkpoint runs inside the COMMIT of the transaction that crosses
its threshold: after a share of tens of MiB, the COMMIT that made it durable also
copies those pages into the database file and syncs it, and every other writer waits
behind the store's write lock meanwhile. The store turns that off on its writer
(``PRAGMA wal_autocheckpoint=0``) and a ``Checkpointer`` does the same work on its own
connection after writes, outside the lock. A commit is as durable as before: it is in
the synced WAL; a checkpoint only moves it into the database file.

While writes keep coming, the ``Checkpointer`` lets them gather in the WAL up to
``wal_bytes`` before it checkpoints: a page that many commits change (a B-tree page of
an index on random keys, such as object ids or observable keys) is appended to the WAL
by each of them but copied into the database file once per checkpoint, not once per
commit. When writes stop for ``idle`` seconds, it checkpoints whatever the WAL holds
(long enough that a loaded node, whose commits come seconds apart, still gathers).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)


WAL_BYTES = 64 * 1024 * 1024
"""The WAL a run of writes may fill before a checkpoint."""


class Checkpointer:
    """PASSIVE checkpoints of the database at ``path``, at most every ``interval``
    seconds and only after ``written()`` was called: once the WAL holds ``wal_bytes``,
    or once no write came for ``idle`` seconds."""

    def __init__(self, path: str, interval: float = 0.25, wal_bytes: int = WAL_BYTES,
                 idle: float = 5.0) -> None:
        self.path = path
        self.interval = interval
        self.wal_bytes = wal_bytes
        self.idle = idle
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._guard = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._thread: threading.Thread | None = None
        self.runs = 0

    def written(self) -> None:
        """Ask for a checkpoint soon (the thread starts at the first write)."""
        if self._thread is None:
            with self._guard:
                if self._thread is None and not self._stop.is_set():
                    self._conn = sqlite3.connect(self.path, isolation_level=None,
                                                 check_same_thread=False)
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="vigil-checkpoint")
                    self._thread.start()
        self._wake.set()

    def checkpoint(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.runs += 1
        except sqlite3.Error as exc:  # another process checkpoints: it is done there
            log.debug("checkpoint skipped: %s", exc)

    def _wal_size(self) -> int:
        try:
            return os.path.getsize(self.path + "-wal")
        except OSError:
            return 0

    def _run(self) -> None:
        while True:
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            if self._wal_size() < self.wal_bytes and self._wake.wait(self.idle):
                continue  # more writes: let them gather in the WAL
            if self._stop.is_set():
                return
            self.checkpoint()
            if self._stop.wait(self.interval):  # let writes gather in between
                return

    def close(self) -> None:
        with self._guard:
            self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._conn is not None:
            self.checkpoint()
            self._conn.close()
            self._conn = None
