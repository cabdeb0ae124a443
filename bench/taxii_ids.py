"""The cost of a TAXII lookup by object id in sorted runs (``vigil.storage.taxii_runs``)
beside one B-tree on the ids, on SQLite with the store's 1 KiB pages.

    python -m bench.taxii_ids --objects 1000000 --lookups 2000

The ids of ``--objects`` random STIX ids, laid out as the runs a fill in shares of
``--share`` objects leaves them (``FANOUT`` runs of a level merged into one of the next),
and again in one B-tree; then ``--lookups`` ids, one query each, alternately on both, in
a fresh connection (SQLite's default cache, as a reader thread has): µs per id.
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


def build(path: Path, objects: int, share: int) -> tuple[list[str], int]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size=1024")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(RUN_IDS)
    db.execute("CREATE TABLE taxii_runs(run INTEGER PRIMARY KEY, level INTEGER, n INTEGER)")
    db.execute(ONE_TREE)
    ids = [f"indicator--{uuid.uuid4()}" for _ in range(objects)]
    sizes = run_sizes(objects // share, share)
    at = 0
    for run, size in enumerate(sizes, 1):
        rows = sorted((ids[k], k // share, k % share) for k in range(at, at + size))
        at += size
        db.executemany("INSERT INTO taxii_ids VALUES(?,?,?,?)", [(run, *r) for r in rows])
        db.execute("INSERT INTO taxii_runs VALUES(?,0,?)", (run, size))
    db.executemany("INSERT INTO one_tree VALUES(?,?,?)",
                   sorted((ids[k], k // share, k % share) for k in range(at)))
    db.commit()
    db.close()
    return ids[:at], len(sizes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--share", type=int, default=1000)
    ap.add_argument("--lookups", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ids.db"
        ids, runs = build(path, args.objects, args.share)
        db = sqlite3.connect(path)
        picks = random.sample(ids, args.lookups)
        queries = {
            "runs": "SELECT share_seq, pos FROM taxii_ids "
                    "WHERE run IN (SELECT run FROM taxii_runs) AND object_id = ?",
            "one B-tree": "SELECT share_seq, pos FROM one_tree WHERE object_id = ?"}
        spent = dict.fromkeys(queries, 0.0)
        for oid in picks:
            for name, query in queries.items():
                start = time.perf_counter()
                assert db.execute(query, (oid,)).fetchall()
                spent[name] += time.perf_counter() - start
        per = {name: s / len(picks) * 1e6 for name, s in spent.items()}
        print(f"{len(ids):,} ids, {runs} runs, load {os.getloadavg()[0]:.1f}: "
              + ", ".join(f"{name} {us:.1f} µs per id" for name, us in per.items())
              + f", ratio {per['runs'] / per['one B-tree']:.2f}")


if __name__ == "__main__":
    main()
