"""The cost of a TAXII lookup by object id in sorted runs (``vigil.storage.taxii_runs``),
with and without the runs' filters (``vigil.storage.taxii_filters``), beside one B-tree
on the ids, on SQLite with the store's 1 KiB pages.

    python -m bench.taxii_ids --objects 1000000 --lookups 2000

The ids of ``--objects`` random STIX ids, laid out as the runs a fill in shares of
``--share`` objects leaves them (``FANOUT`` runs of a level merged into one of the next),
each run with its filter (parts of ``PART`` ids), and again in one B-tree; then
``--lookups`` stored ids, one query each, alternately on the three, in a fresh connection
(SQLite's default cache, as a reader thread has): µs per id. Then ``--batches`` lookups
of ``--batch`` ids not stored, one query each (as a POST's check of its new objects
against the stored ones, ``vigil.taxii.view``): µs per id. "runs + filters" counts the
whole lookup: the listed runs read, the filters checked (kept in memory after the first
lookup, as a node does), the runs that may hold an id probed.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, cast

from vigil.storage import taxii_filters
from vigil.storage.base import Sql
from vigil.storage.taxii_runs import FANOUT

RUN_IDS = ("CREATE TABLE taxii_ids(run INTEGER NOT NULL, object_id TEXT NOT NULL, "
           "share_seq INTEGER NOT NULL, pos INTEGER NOT NULL, "
           "PRIMARY KEY (run, object_id, share_seq, pos)) WITHOUT ROWID")
ONE_TREE = ("CREATE TABLE one_tree(object_id TEXT NOT NULL, share_seq INTEGER NOT NULL, "
            "pos INTEGER NOT NULL, PRIMARY KEY (object_id, share_seq, pos)) WITHOUT ROWID")


def run_sizes(shares: int, share: int) -> list[int]:
    """The runs ``shares`` shares of ``share`` objects leave, largest first."""
    sizes: list[int] = []
    level, left = 0, shares
    while left:
        sizes += [share * FANOUT ** level] * (left % FANOUT)
        left //= FANOUT
        level += 1
    return sorted(sizes, reverse=True)


class _Db:
    """A connection as the store's ``Sql``, for ``taxii_filters``."""

    dialect = "sqlite"

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> None:
        self.db.executemany(sql, rows)


def _Sql(db: sqlite3.Connection) -> Sql:
    return cast(Sql, _Db(db))


def build(path: Path, objects: int, share: int) -> tuple[list[str], int]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size=1024")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(RUN_IDS)
    db.execute("CREATE TABLE taxii_runs(run INTEGER PRIMARY KEY, level INTEGER, n INTEGER, "
               "tag INTEGER)")
    db.execute("CREATE TABLE taxii_id_filters(run INTEGER NOT NULL, part INTEGER NOT NULL, "
               "lo TEXT NOT NULL, hi TEXT NOT NULL, bits BLOB NOT NULL, "
               "PRIMARY KEY (run, part))")
    db.execute(ONE_TREE)
    ids = [f"indicator--{uuid.uuid4()}" for _ in range(objects)]
    sizes = run_sizes(objects // share, share)
    at = 0
    for run, size in enumerate(sizes, 1):
        rows = sorted((ids[k], k // share, k % share) for k in range(at, at + size))
        at += size
        db.executemany("INSERT INTO taxii_ids VALUES(?,?,?,?)", [(run, *r) for r in rows])
        db.execute("INSERT INTO taxii_runs VALUES(?,0,?,?)", (run, size, taxii_filters.new_tag()))
        taxii_filters.write(_Sql(db), run, [r[0] for r in rows])
    db.executemany("INSERT INTO one_tree VALUES(?,?,?)",
                   sorted((ids[k], k // share, k % share) for k in range(at)))
    db.commit()
    db.close()
    return ids[:at], len(sizes)


def _filtered(db: sqlite3.Connection, oids: list[str]) -> list[Any]:
    """A lookup as the store does it: the runs that may hold each id, probed for it."""
    probe, cond, params = taxii_filters.where(_Sql(db), oids)
    return db.execute(f"SELECT share_seq, pos FROM {probe}taxii_ids x WHERE {cond}",
                      params).fetchall()


def _time(db: sqlite3.Connection, queries: dict[str, Any], lookups: list[list[str]],
          found: bool) -> dict[str, float]:
    """µs per id of each way, taking turns on each lookup."""
    spent = dict.fromkeys(queries, 0.0)
    for oids in lookups:
        for name, query in queries.items():
            start = time.perf_counter()
            got = query(oids)
            spent[name] += time.perf_counter() - start
            assert bool(got) == found, name
    return {name: s / sum(map(len, lookups)) * 1e6 for name, s in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--share", type=int, default=1000)
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--batches", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ids.db"
        ids, runs = build(path, args.objects, args.share)
        db = sqlite3.connect(path)

        def every_run(oids: list[str]) -> list[Any]:
            return db.execute("SELECT share_seq, pos FROM taxii_ids WHERE run IN (SELECT run "
                              f"FROM taxii_runs) AND object_id IN ({','.join('?' * len(oids))})",
                              oids).fetchall()

        def one_tree(oids: list[str]) -> list[Any]:
            return db.execute("SELECT share_seq, pos FROM one_tree WHERE object_id IN "
                              f"({','.join('?' * len(oids))})", oids).fetchall()

        queries = {"runs": every_run, "runs + filters": lambda o: _filtered(db, o),
                   "one B-tree": one_tree}
        _filtered(db, ids[:1])  # the filters read once, as a node keeps them
        single = _time(db, queries, [[oid] for oid in random.sample(ids, args.lookups)], True)
        new = [[f"indicator--{uuid.uuid4()}" for _ in range(args.batch)]
               for _ in range(args.batches)]
        batch = _time(db, queries, new, False)
        load = os.getloadavg()[0]
        for what, per in ((f"{args.lookups} stored ids, one a query", single),
                          (f"{args.batches} x {args.batch} new ids a query", batch)):
            print(f"{len(ids):,} ids, {runs} runs, load {load:.1f}, {what}: "
                  + ", ".join(f"{name} {us:.1f} µs per id" for name, us in per.items())
                  + f"; runs / one B-tree {per['runs'] / per['one B-tree']:.2f}, "
                  f"runs + filters / one B-tree {per['runs + filters'] / per['one B-tree']:.2f}")


if __name__ == "__main__":
    main()
