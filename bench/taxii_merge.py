"""How long a merge of TAXII id runs holds the SQLite writer: in one transaction (as
a POST's transaction did before merges moved off the request path) beside the steps
of ``vigil.storage.taxii_runs.step``, each a transaction of its own.

    python -m bench.taxii_merge --ids 1000000

A fresh SQLite store (the node's schema and pragmas) holds ``FANOUT`` runs of
``--ids`` random STIX ids in all; they are merged in steps (``--step`` ids per step),
then laid out again and merged by one ``INSERT … SELECT`` and ``DELETE``, the
statements the merge used inside a share's transaction. The longest step is the
longest a publish waits for a merge.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

from vigil.storage import open_store, taxii_runs
from vigil.storage.base import Sql


def lay_out(sql: Sql, ids: list[str], first: int) -> list[int]:
    """``FANOUT`` runs of level 1 from ``first`` on, the ids dealt among them."""
    runs = list(range(first, first + taxii_runs.FANOUT))
    for k, run in enumerate(runs):
        part = sorted((oid, i, 0) for i, oid in enumerate(ids) if i % len(runs) == k)
        sql.executemany("INSERT INTO taxii_ids(run, object_id, share_seq, pos) "
                        "VALUES(?,?,?,?)", [(run, *row) for row in part])
        sql.execute("INSERT INTO taxii_runs(run, level, n) VALUES(?, 1, ?)", (run, len(part)))
    return runs


def one_transaction(sql: Sql, runs: list[int], run: int) -> None:
    marks = ",".join("?" * len(runs))
    sql.execute("INSERT INTO taxii_ids(run, object_id, share_seq, pos) "
                f"SELECT ?, object_id, share_seq, pos FROM taxii_ids WHERE run IN ({marks}) "
                "ORDER BY object_id, share_seq, pos", (run, *runs))
    sql.execute(f"DELETE FROM taxii_ids WHERE run IN ({marks})", list(runs))
    sql.execute(f"DELETE FROM taxii_runs WHERE run IN ({marks})", list(runs))
    sql.execute("INSERT INTO taxii_runs(run, level, n) VALUES(?, 2, 0)", (run,))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ids", type=int, default=1_000_000)
    ap.add_argument("--step", type=int, default=taxii_runs.STEP)
    args = ap.parse_args()
    ids = [f"indicator--{uuid.uuid4()}" for _ in range(args.ids)]
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'merge.db'}")
        try:
            store.write(lambda sql: lay_out(sql, ids, 1))
            times: list[float] = []
            with mock.patch.object(taxii_runs, "STEP", args.step):
                while True:
                    start = time.perf_counter()
                    more = store.write(taxii_runs.step)
                    times.append(time.perf_counter() - start)
                    if not more:
                        break
            assert [lv for _, lv, _ in store.read(taxii_runs.runs)] == [2]
            load = os.getloadavg()[0]
            runs = store.write(lambda sql: lay_out(sql, ids, 1000))
            start = time.perf_counter()
            store.write(lambda sql: one_transaction(sql, runs, 2000))
            whole = time.perf_counter() - start
        finally:
            store.close()
    print(f"{args.ids:,} ids in {taxii_runs.FANOUT} runs, load {load:.1f} / "
          f"{os.getloadavg()[0]:.1f}: {len(times)} steps of <= {args.step:,} ids, "
          f"longest {max(times) * 1e3:.0f} ms, sum {sum(times):.1f} s; "
          f"one transaction {whole:.1f} s")


if __name__ == "__main__":
    main()
