"""Observable keys not yet merged into the key index, and the merge that moves them.

A correlation pass appends its ``observables`` rows (each with its key, ``k``) in seq
order, and nothing else: an index on a random key would dirty a page per row in every
pass's transaction (on SQLite a whole page in the WAL, and again at the checkpoint).
The keys live instead in ``observable_keys`` (``(k, seq)``, ordered by key), which the
merge fills from the rows after the *merged mark* (``storage.observables.merged_upto``):
sorted by key, in steps of ``STEP`` keys, one short transaction each, so that a page
of the key index is written once for all the keys of a merge that fall on it; the last
step moves the mark. A merge runs after a pass once ``MERGE_AT`` rows wait.

Until then a row is found through ``PendingKeys``: each process keeps the keys of the
rows after the mark in memory (at most about ``MERGE_AT`` of them), read in seq order
from the table itself (a scan of its newest rows, in the lookup's own snapshot), so
every process sees every row whatever process wrote it, and a restart loses nothing.
(Rows are appended under the lock that orders passes, ``corr.lock_passes``, so they
become visible in seq order: reading on from the last seq read misses none.)
A lookup takes the seqs the key index and the pending keys name for a key, and reads
those rows in its snapshot: a row in both (a merge under way) counts once; a row gone
(a purge) is not read.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable

from vigil.storage import observables as rows
from vigil.storage.base import Sql, Store

MERGE_AT = 50_000
"""Rows after the merged mark that start a merge (bounds each process's pending keys)."""

STEP = 4096
"""Keys per merge transaction (a short hold of the store's writer)."""


class _Keys:
    """Keys of rows after a merged mark: key -> seqs, and the keys sorted for ranges
    (read and grown under ``lock``, which threads of one process share)."""

    def __init__(self, merged: int, lock: threading.Lock) -> None:
        self.lock = lock
        self.merged = merged
        self.last = merged  # the last seq read
        self.by_key: dict[bytes, list[int]] = {}
        self._sorted: list[bytes] | None = None

    def load(self, sql: Sql) -> None:
        got = rows.pending(sql, self.last)
        for seq, k in got:
            self.by_key.setdefault(k, []).append(seq)
        if got:
            self.last = got[-1][0]
            self._sorted = None

    def seqs(self, keys: Iterable[bytes]) -> list[int]:
        with self.lock:
            return [s for k in keys for s in self.by_key.get(k, ())]

    def between(self, lo: bytes, hi: bytes) -> list[int]:
        with self.lock:
            if self._sorted is None:
                self._sorted = sorted(self.by_key)
            keys = self._sorted
            found = keys[bisect.bisect_left(keys, lo):bisect.bisect_right(keys, hi)]
        return self.seqs(found)


class PendingKeys:
    """One process's view of the rows after the merged mark (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: _Keys | None = None

    def view(self, sql: Sql) -> _Keys:
        """The pending keys as of ``sql``'s snapshot: this process's map brought up to
        date, or, for a snapshot older than the mark the map holds (another thread saw a
        merge end), keys read afresh for it alone."""
        merged = rows.merged_upto(sql)
        with self._lock:
            keys = self._keys
            if keys is not None and merged < keys.merged:
                fresh = _Keys(merged, threading.Lock())
                fresh.load(sql)
                return fresh
            if keys is None or merged > keys.merged:
                keys = self._keys = _Keys(merged, self._lock)
            keys.load(sql)
            return keys

    def size(self) -> int:
        with self._lock:
            return 0 if self._keys is None else sum(map(len, self._keys.by_key.values()))


def merge(store: Store, at: int | None = None, step: int | None = None) -> int:
    """Move the keys of the rows after the merged mark into the key index once ``at``
    (default ``MERGE_AT``) or more wait (``at=0``: whatever waits), ``step`` (default
    ``STEP``) keys per transaction; the number of keys moved."""
    at = MERGE_AT if at is None else at
    step = STEP if step is None else step
    merged, top = store.read(lambda sql: (rows.merged_upto(sql), rows.last_seq(sql)))
    if top - merged < max(at, 1):
        return 0
    todo = sorted((k, seq) for seq, k in store.read(
        lambda sql: rows.pending(sql, merged, upto=top)))
    for i in range(0, len(todo), step):
        chunk = todo[i:i + step]
        end = i + step >= len(todo)

        def write(sql: Sql, chunk: list[tuple[bytes, int]] = chunk, end: bool = end) -> None:
            rows.add_keys(sql, chunk)
            if end:
                rows.set_merged(sql, top)

        store.write(write)
    if not todo:
        store.write(lambda sql: rows.set_merged(sql, top))
    return len(todo)
