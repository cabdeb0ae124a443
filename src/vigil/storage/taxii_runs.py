"""The TAXII object-id index as sorted runs (``taxii_ids``, ``taxii_runs``).

An index on object ids in one B-tree takes each new id at a random place: a POST of
1,000 objects dirties up to 1,000 of its pages, each written whole to the WAL and again
at the checkpoint, and the more the store holds the closer that comes to a page per
object. Here the ids of one call of ``add`` (a share's transaction, or a received
batch's) are one *run*: sorted, under a run number above every other, so they are
appended at the end of ``taxii_ids`` (``(run, object_id, share_seq, pos)``), a few
full pages. When ``FANOUT`` runs of one level gather, they are merged, in the same
transaction, into one sorted run of the next level (appended in turn; the old runs'
pages are freed), so each id is written once per level: about log_FANOUT of the number
of runs. A lookup probes every run (``taxii_runs`` lists them: at most FANOUT - 1 per
level), in the reader's snapshot; the rows it names are read from ``taxii_objects``
by ``(share_seq, pos)``. The caller holds the write-order lock for ``add``.

On PostgreSQL every entry goes into one run (``ONE_RUN``), never merged: its WAL logs an
index insert as the row change (a full page image only at a page's first change after
a checkpoint), so a random-key B-tree costs it little, while each merge would log
every moved row again and leave the old ones to vacuum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vigil.storage.base import Sql

FANOUT = 16
"""Runs of one level that are merged into one run of the next."""

ONE_RUN = 1
"""The run of every entry on PostgreSQL (and of the ids indexed before runs)."""

RUNS = "SELECT run FROM taxii_runs"
"""The runs a lookup probes (``x.run IN (RUNS)``)."""


def _next_run(sql: Sql) -> int:
    row = sql.execute("SELECT max(run) FROM taxii_runs").fetchone()
    return 1 if row is None or row[0] is None else int(row[0]) + 1


def add(sql: Sql, rows: Sequence[tuple[str, int, int]]) -> None:
    """Index ``(object_id, share_seq, pos)`` entries as one new run, then merge the
    levels that have ``FANOUT`` runs."""
    if not rows:
        return
    if sql.dialect == "postgresql":
        sql.execute("INSERT INTO taxii_runs(run, level, n) VALUES(?, 0, ?) ON CONFLICT (run) "
                    "DO UPDATE SET n = taxii_runs.n + excluded.n", (ONE_RUN, len(rows)))
        sql.executemany("INSERT INTO taxii_ids(run, object_id, share_seq, pos) "
                        "VALUES(?,?,?,?)", [(ONE_RUN, *row) for row in rows])
        return
    run = _next_run(sql)
    sql.execute("INSERT INTO taxii_runs(run, level, n) VALUES(?, 0, ?)", (run, len(rows)))
    sql.executemany("INSERT INTO taxii_ids(run, object_id, share_seq, pos) VALUES(?,?,?,?)",
                    [(run, *row) for row in sorted(rows)])
    level = 0
    while True:
        runs = [int(r[0]) for r in sql.execute(
            "SELECT run FROM taxii_runs WHERE level = ? ORDER BY run", (level,)).fetchall()]
        if len(runs) < FANOUT:
            return
        _merge(sql, runs, level + 1)
        level += 1


def _merge(sql: Sql, runs: Sequence[int], level: int) -> None:
    """Rewrite ``runs`` as one sorted run of ``level``, at the end of the index."""
    run = _next_run(sql)
    marks = ",".join("?" * len(runs))
    sql.execute("INSERT INTO taxii_ids(run, object_id, share_seq, pos) "
                f"SELECT ?, object_id, share_seq, pos FROM taxii_ids WHERE run IN ({marks}) "
                "ORDER BY object_id, share_seq, pos", (run, *runs))
    got = sql.execute(f"SELECT sum(n) FROM taxii_runs WHERE run IN ({marks})",
                      list(runs)).fetchone()
    sql.execute(f"DELETE FROM taxii_ids WHERE run IN ({marks})", list(runs))
    sql.execute(f"DELETE FROM taxii_runs WHERE run IN ({marks})", list(runs))
    sql.execute("INSERT INTO taxii_runs(run, level, n) VALUES(?,?,?)",
                (run, level, int(got[0] or 0)))


def drop(sql: Sql, share_seq: int) -> None:
    """Remove the entries of a share's objects (call before its ``taxii_objects`` rows
    go)."""
    found: list[Any] = sql.execute("SELECT object_id, pos FROM taxii_objects "
                                   "WHERE share_seq = ?", (share_seq,)).fetchall()
    sql.executemany(f"DELETE FROM taxii_ids WHERE run IN ({RUNS}) AND object_id = ? "
                    "AND share_seq = ? AND pos = ?",
                    [(str(oid), share_seq, int(pos)) for oid, pos in found])


def runs(sql: Sql) -> list[tuple[int, int, int]]:
    """``(run, level, entries)`` of every run, in run order."""
    return [(int(r), int(lv), int(n)) for r, lv, n in sql.execute(
        "SELECT run, level, n FROM taxii_runs ORDER BY run").fetchall()]
