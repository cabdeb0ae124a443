"""Filters of the TAXII object-id runs (``taxii_id_filters``), so that a lookup by id
probes about one run instead of every run (``vigil.storage.taxii_runs``).

Each run on SQLite keeps a blocked Bloom filter of its object ids: ``BITS`` bits per
id, each id setting 6 bits of one 64-bit word. The filter is stored in *parts*,
each covering a range ``[lo, hi]`` of the run's ids in id order: one part per ``add``
(``PART`` ids at most), one per merge step, written in the transaction that writes
those ids (so a merge writes each part once, within its bounded steps). A run's
``tag`` in ``taxii_runs`` (a random number) says its filter is whole: the parts cover
every id of the run. A run without a tag (the ids indexed before the filters, until
``fill`` has built its filter in bounded steps; every run on PostgreSQL, where all ids
are one run) is always probed. Removing an id leaves its bits: a filter may answer
"maybe" for an id its run no longer holds (as for any false positive, the probe of
that run finds nothing), never "no" for one it holds.

A lookup reads the listed runs and their tags in its snapshot, and probes each run only
for the ids its filter may hold (``where``): a POST's check of its 1,000 new ids against
the stored ones probes a handful of runs, not every run for every id. The filters are
kept in memory by tag (a tag names one run's whole filter, in any store: a run's filter
never changes once the run is listed), the least recently used dropped beyond
``CACHE_BYTES``.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import secrets
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vigil.storage.base import Sql

BITS = 12
"""Filter bits per id."""

PART = 50_000
"""Ids of one part of a filter (at most) when a run is added or its filter built."""

CACHE_BYTES = 64 << 20
"""Bytes of filters kept in memory (about 1.5 bytes an id)."""

_LOW = [0] * 4096
"""Two of an id's 6 bits in its word, from 12 bits of its hash."""
for _v in range(4096):
    _LOW[_v] = (1 << (_v & 63)) | (1 << (_v >> 6))


def digest(object_id: str) -> tuple[int, int]:
    """An id's hash (its word: the hash modulo a part's words) and its bits in that
    word."""
    h = int.from_bytes(hashlib.blake2b(object_id.encode(), digest_size=13).digest(), "little")
    g = h >> 64
    return h & 0xFFFFFFFFFFFFFFFF, _LOW[g & 4095] | _LOW[(g >> 12) & 4095] | _LOW[(g >> 24) & 4095]


def build(ids: Sequence[str]) -> bytes:
    """The filter of ``ids``: their words, little-endian."""
    words = array("Q", bytes(8 * max(1, (len(ids) * BITS + 63) // 64)))
    n = len(words)
    for oid in ids:
        h, bits = digest(oid)
        words[h % n] |= bits
    if sys.byteorder == "big":
        words.byteswap()
    return words.tobytes()


@dataclass(frozen=True, slots=True)
class Filter:
    """A run's whole filter: its parts' ranges and words, in id order."""

    los: list[str]
    his: list[str]
    words: list[array[int]]

    @staticmethod
    def of(parts: Iterable[tuple[str, str, bytes]]) -> Filter:
        f = Filter([], [], [])
        for lo, hi, bits in parts:
            words = array("Q", bits)
            if sys.byteorder == "big":
                words.byteswap()
            f.los.append(lo)
            f.his.append(hi)
            f.words.append(words)
        return f

    def size(self) -> int:
        return sum(8 * len(w) for w in self.words) + 100 * len(self.los)

    def may_hold(self, object_id: str, hashed: tuple[int, int]) -> bool:
        """False when the run surely does not hold the id. The part to look in is the
        last one starting at or before it: a part starting after an earlier one's end
        starts with an id of its own, so an id in two parts starts the later one."""
        at = bisect.bisect_right(self.los, object_id) - 1
        if at < 0 or self.his[at] < object_id:
            return False
        words = self.words[at]
        h, bits = hashed
        return words[h % len(words)] & bits == bits


class _Cache:
    """Filters by tag, the least recently used dropped beyond ``CACHE_BYTES``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._filters: OrderedDict[int, tuple[Filter, int]] = OrderedDict()
        self._bytes = 0

    def get(self, tag: int) -> Filter | None:
        with self._lock:
            got = self._filters.get(tag)
            if got is None:
                return None
            self._filters.move_to_end(tag)
            return got[0]

    def put(self, tag: int, f: Filter) -> None:
        size = f.size()
        with self._lock:
            if tag in self._filters or size > CACHE_BYTES:
                return
            self._filters[tag] = (f, size)
            self._bytes += size
            while self._bytes > CACHE_BYTES:
                _, (_, gone) = self._filters.popitem(last=False)
                self._bytes -= gone

    def clear(self) -> None:
        with self._lock:
            self._filters.clear()
            self._bytes = 0


CACHE = _Cache()


def new_tag() -> int:
    """A run's tag: random, positive, in 63 bits."""
    return secrets.randbits(62) + 1


def write(sql: Sql, run: int, ids: Sequence[str]) -> None:
    """Store the filter of the next ids of ``run`` (in id order, after those of its
    parts so far), in parts of at most ``PART`` ids."""
    row = sql.execute("SELECT max(part) FROM taxii_id_filters WHERE run = ?",
                      (run,)).fetchone()
    part = 0 if row is None or row[0] is None else int(row[0]) + 1
    rows = []
    for at in range(0, len(ids), PART):
        chunk = ids[at:at + PART]
        rows.append((run, part, chunk[0], chunk[-1], build(chunk)))
        part += 1
    sql.executemany("INSERT INTO taxii_id_filters(run, part, lo, hi, bits) "
                    "VALUES(?,?,?,?,?)", rows)


def forget(sql: Sql, runs: Sequence[int]) -> None:
    """Remove the filters of runs no longer listed."""
    sql.executemany("DELETE FROM taxii_id_filters WHERE run = ?", [(r,) for r in runs])


def _load(sql: Sql, run: int, tag: int) -> Filter:
    got = CACHE.get(tag)
    if got is None:
        got = Filter.of((str(lo), str(hi), bytes(bits)) for lo, hi, bits in sql.execute(
            "SELECT lo, hi, bits FROM taxii_id_filters WHERE run = ? ORDER BY part",
            (run,)).fetchall())
        CACHE.put(tag, got)
    return got


_LISTINGS: OrderedDict[str, list[tuple[int, Filter | None]]] = OrderedDict()
"""The last few listings of runs read (``run tag`` pairs, in run order), with their
filters."""
_LISTINGS_KEPT = 4
_LISTINGS_LOCK = threading.Lock()


def clear() -> None:
    """Drop every filter kept in memory (they are read again from the store)."""
    CACHE.clear()
    with _LISTINGS_LOCK:
        _LISTINGS.clear()


def _listing(sql: Sql) -> list[tuple[int, Filter | None]]:
    """The listed runs of this snapshot, each with its filter (None: it has none)."""
    if sql.dialect == "postgresql":  # one run, no filter
        key = " ".join(f"{r} -" for (r,) in sql.execute(
            "SELECT run FROM taxii_runs ORDER BY run").fetchall())
    else:  # one string: cheaper to read and to look up than a row per run
        row = sql.execute("SELECT group_concat(run || ' ' || coalesce(tag, '-'), ' ') FROM "
                          "(SELECT run, tag FROM taxii_runs ORDER BY run)").fetchone()
        key = "" if row is None or row[0] is None else str(row[0])
    with _LISTINGS_LOCK:
        got = _LISTINGS.get(key)
    if got is None:
        words = key.split()
        got = [(int(run), None if tag == "-" else _load(sql, int(run), int(tag)))
               for run, tag in zip(words[::2], words[1::2], strict=True)]
        with _LISTINGS_LOCK:
            _LISTINGS[key] = got
            while len(_LISTINGS) > _LISTINGS_KEPT:
                _LISTINGS.popitem(last=False)
    return got


def candidates(sql: Sql, ids: Sequence[str]) -> dict[int, list[str]]:
    """For each listed run that may hold some of ``ids``, those ids: the ids its filter
    may hold, or all of them for a run without a whole filter (in run order)."""
    wanted = list(dict.fromkeys(ids))
    hashed = [(oid, *digest(oid)) for oid in wanted]
    out: dict[int, list[str]] = {}
    right = bisect.bisect_right
    for run, f in _listing(sql):
        if f is None:
            out[run] = wanted
            continue
        los, his, parts = f.los, f.his, f.words
        # Filter.may_hold, inline: it runs for each id in each run
        if len(parts) == 1:  # a share's run: one part
            lo, hi, words = los[0], his[0], parts[0]
            n = len(words)
            got = [oid for oid, h, bits in hashed
                   if words[h % n] & bits == bits and lo <= oid <= hi]
        else:
            got = []
            for oid, h, bits in hashed:
                at = right(los, oid) - 1
                if at >= 0 and his[at] >= oid:
                    words = parts[at]
                    if words[h % len(words)] & bits == bits:
                        got.append(oid)
        if got:
            out[run] = got
    return out


def where(sql: Sql, ids: Sequence[str]) -> tuple[str, str, list[Any]]:
    """How a query on ``taxii_ids x`` probes, for each of ``ids``, only the runs that may
    hold it: a FROM item to put before ``taxii_ids x`` (SQLite: the ``(run, id)`` pairs
    to probe, one JSON parameter, so that the statement's text is the same whatever the
    pairs), the condition on ``x``, and the parameters of the FROM item. On PostgreSQL:
    every run, no parameter."""
    if sql.dialect == "postgresql":
        return "", "x.run IN (SELECT run FROM taxii_runs)", []
    pairs = [[run, oid] for run, some in candidates(sql, ids).items() for oid in some]
    if len(pairs) <= 1:  # one id in one run, or none (run 0 is none)
        return "", "x.run = ? AND x.object_id = ?", pairs[0] if pairs else [0, ""]
    return ("json_each(?) k CROSS JOIN ",
            "x.run = json_extract(k.value, '$[0]') AND x.object_id = json_extract(k.value, '$[1]')",
            [json.dumps(pairs, separators=(",", ":"))])


def fill(sql: Sql) -> bool:
    """Build the next part of the filter of a listed run that has no whole filter (the
    ids indexed before the filters): ``PART`` ids, after those of its parts so far; the
    last part tags the run. False when every run has its filter (always on
    PostgreSQL: one run, probed for every lookup)."""
    if sql.dialect == "postgresql":
        return False
    row = sql.execute("SELECT run FROM taxii_runs WHERE tag IS NULL ORDER BY run LIMIT 1"
                      ).fetchone()
    if row is None:
        return False
    run = int(row[0])
    last = sql.execute("SELECT hi FROM taxii_id_filters WHERE run = ? ORDER BY part DESC "
                       "LIMIT 1", (run,)).fetchone()
    ids = [str(r[0]) for r in sql.execute(
        "SELECT DISTINCT object_id FROM taxii_ids WHERE run = ? AND object_id > ? "
        "ORDER BY object_id LIMIT ?", (run, "" if last is None else str(last[0]), PART)
    ).fetchall()]
    if ids:
        write(sql, run, ids)
    if len(ids) < PART:
        sql.execute("UPDATE taxii_runs SET tag = ? WHERE run = ?", (new_tag(), run))
    return True


def unfilled(sql: Sql) -> bool:
    """Whether ``fill`` has work."""
    return sql.dialect != "postgresql" and sql.execute(
        "SELECT 1 FROM taxii_runs WHERE tag IS NULL LIMIT 1").fetchone() is not None
