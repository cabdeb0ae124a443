"""The TAXII object-id index as sorted runs (``taxii_ids``, ``taxii_runs``).

An index on object ids in one B-tree takes each new id at a random place: a POST of
1,000 objects dirties up to 1,000 of its pages, each written whole to the WAL and again
at the checkpoint, and the more the store holds the closer that comes to a page per
object. Here the ids of one call of ``add`` (a share's transaction, or a received
batch's) are one *run*: sorted, under a run number above every other, so they are
appended at the end of ``taxii_ids`` (``(run, object_id, share_seq, pos)``), a few
full pages. When ``FANOUT`` runs of one level gather, they are merged into one sorted
run of the next level (appended in turn; the old runs' pages are freed), so each id is
written once per level: about log_FANOUT of the number of runs. A merge is not part of
the transaction that adds a run: ``step`` does a bounded part of one (at most ``STEP``
ids read and copied, or ``STEP`` ids of merged runs deleted) in a transaction of its
own, called by the node between requests (``vigil.node.id_merges``). Its state (the
runs merged, the run being written) is a ``meta`` row written in the same transaction
as each part, so a merge stopped at any point (even by kill -9) resumes where its last
committed part ended, with no id lost or copied twice. The run being written is not
listed in ``taxii_runs`` until the transaction that copies its last ids, which also
unlists the runs it replaces, so a lookup sees either these or it, whole. A lookup
probes every run (``taxii_runs`` lists them: at most FANOUT - 1 per
level), in the reader's snapshot; the rows it names are read from ``taxii_objects``
by ``(share_seq, pos)``. The caller holds the write-order lock for ``add``.

On PostgreSQL every entry goes into one run (``ONE_RUN``), never merged: its WAL logs an
index insert as the row change (a full page image only at a page's first change after
a checkpoint), so a random-key B-tree costs it little, while each merge would log
every moved row again and leave the old ones to vacuum.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from vigil.storage import taxii_filters
from vigil.storage.base import Sql

FANOUT = 16
"""Runs of one level that are merged into one run of the next."""

ONE_RUN = 1
"""The run of every entry on PostgreSQL (and of the ids indexed before runs)."""

STEP = 50_000
"""Ids read and copied (or deleted) by one transaction of a merge."""

RUNS = "SELECT run FROM taxii_runs"
"""The runs a lookup probes (``x.run IN (RUNS)``)."""

_STATE = "taxii_merge"
"""The ``meta`` key of the merge under way: ``{"run", "level", "from"}`` while the run
is written, then ``{"free": [runs]}`` while the merged runs' entries are deleted."""

_KEY = "object_id, share_seq, pos"


def _state(sql: Sql) -> dict[str, Any] | None:
    row = sql.execute("SELECT value FROM meta WHERE key = ?", (_STATE,)).fetchone()
    return None if row is None else dict(json.loads(str(row[0])))


def _save(sql: Sql, state: dict[str, Any] | None) -> None:
    if state is None:
        sql.execute("DELETE FROM meta WHERE key = ?", (_STATE,))
        return
    sql.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value", (_STATE, json.dumps(state)))


def _next_run(sql: Sql) -> int:
    row = sql.execute("SELECT max(run) FROM taxii_runs").fetchone()
    top = 0 if row is None or row[0] is None else int(row[0])
    state = _state(sql) if sql.dialect != "postgresql" else None
    if state is not None and "run" in state:  # the run being written
        top = max(top, int(state["run"]))
    return top + 1


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
    ordered = sorted(rows)
    taxii_filters.write(sql, run, [oid for oid, _, _ in ordered])
    sql.execute("INSERT INTO taxii_runs(run, level, n, tag) VALUES(?, 0, ?, ?)",
                (run, len(rows), taxii_filters.new_tag()))
    sql.executemany("INSERT INTO taxii_ids(run, object_id, share_seq, pos) VALUES(?,?,?,?)",
                    [(run, *row) for row in ordered])


def pending(sql: Sql) -> bool:
    """Whether ``step`` has work: a merge under way, or a level with ``FANOUT`` runs."""
    if sql.dialect == "postgresql":
        return False
    return _state(sql) is not None or sql.execute(
        "SELECT 1 FROM taxii_runs GROUP BY level HAVING count(*) >= ? LIMIT 1",
        (FANOUT,)).fetchone() is not None or taxii_filters.unfilled(sql)


def step(sql: Sql) -> bool:
    """One bounded part of the merge under way, or the start of the next one (the
    oldest ``FANOUT`` runs of the lowest level that has as many); False when there is
    nothing to merge (always on PostgreSQL)."""
    if sql.dialect == "postgresql":
        return False
    state = _state(sql)
    if state is None:
        for (level,) in sql.execute("SELECT level FROM taxii_runs GROUP BY level "
                                    "HAVING count(*) >= ? ORDER BY level",
                                    (FANOUT,)).fetchall():
            runs = [int(r[0]) for r in sql.execute(
                "SELECT run FROM taxii_runs WHERE level = ? ORDER BY run LIMIT ?",
                (int(level), FANOUT)).fetchall()]
            _save(sql, {"run": _next_run(sql), "level": int(level) + 1, "from": runs})
            return True
        return taxii_filters.fill(sql)
    if "free" in state:
        _free(sql, [int(r) for r in state["free"]])
    else:
        _copy(sql, int(state["run"]), int(state["level"]), [int(r) for r in state["from"]])
    return True


def _copy(sql: Sql, run: int, level: int, sources: Sequence[int]) -> None:
    """Copy the next ids of ``sources`` into ``run``, in order: those up to the least
    of the sources' ``STEP`` // len-th next ids (at most ``STEP``). When no source has
    as many left, copy the rest and list ``run`` in place of ``sources``."""
    last = sql.execute(f"SELECT {_KEY} FROM taxii_ids WHERE run = ? ORDER BY "
                       "object_id DESC, share_seq DESC, pos DESC LIMIT 1", (run,)).fetchone()
    after = ("", -1, -1) if last is None else (str(last[0]), int(last[1]), int(last[2]))
    each = max(1, STEP // len(sources))
    bound: tuple[str, int, int] | None = None
    for source in sources:
        got = sql.execute(f"SELECT {_KEY} FROM taxii_ids WHERE run = ? AND ({_KEY}) > "
                          f"(?, ?, ?) ORDER BY {_KEY} LIMIT 1 OFFSET ?",
                          (source, *after, each - 1)).fetchone()
        if got is not None and (bound is None or tuple(got) < bound):
            bound = (str(got[0]), int(got[1]), int(got[2]))
    marks = ",".join("?" * len(sources))
    upto = "" if bound is None else f"AND ({_KEY}) <= (?, ?, ?) "
    sql.execute(f"INSERT INTO taxii_ids(run, {_KEY}) SELECT ?, {_KEY} FROM taxii_ids "
                f"WHERE run IN ({marks}) AND ({_KEY}) > (?, ?, ?) {upto}"
                f"ORDER BY {_KEY} ON CONFLICT DO NOTHING",
                (run, *sources, *after, *(bound or ())))
    copied = [str(r[0]) for r in sql.execute(
        f"SELECT DISTINCT object_id FROM taxii_ids WHERE run = ? AND ({_KEY}) > (?, ?, ?) "
        "ORDER BY object_id", (run, *after)).fetchall()]
    if copied:  # the filter of the ids just copied: one part
        taxii_filters.write(sql, run, copied)
    if bound is not None:
        return
    got = sql.execute(f"SELECT sum(n) FROM taxii_runs WHERE run IN ({marks})",
                      list(sources)).fetchone()
    sql.execute(f"DELETE FROM taxii_runs WHERE run IN ({marks})", list(sources))
    sql.execute("INSERT INTO taxii_runs(run, level, n, tag) VALUES(?,?,?,?)",
                (run, level, int(got[0] or 0), taxii_filters.new_tag()))
    taxii_filters.forget(sql, sources)
    _save(sql, {"free": list(sources)})


def _free(sql: Sql, runs: list[int]) -> None:
    """Delete up to ``STEP`` entries of the first unlisted run of ``runs``."""
    run = runs[0]
    edge = sql.execute(f"SELECT {_KEY} FROM taxii_ids WHERE run = ? ORDER BY {_KEY} "
                       "LIMIT 1 OFFSET ?", (run, STEP)).fetchone()
    if edge is None:
        sql.execute("DELETE FROM taxii_ids WHERE run = ?", (run,))
        _save(sql, {"free": runs[1:]} if runs[1:] else None)
        return
    sql.execute(f"DELETE FROM taxii_ids WHERE run = ? AND ({_KEY}) < (?, ?, ?)",
                (run, *edge))


def drop(sql: Sql, share_seq: int) -> None:
    """Remove the entries of a share's objects (call before its ``taxii_objects`` rows
    go)."""
    found: list[Any] = sql.execute("SELECT object_id, pos FROM taxii_objects "
                                   "WHERE share_seq = ?", (share_seq,)).fetchall()
    state = _state(sql) if sql.dialect != "postgresql" else None
    writing = -1 if state is None else int(state.get("run", -1))  # a run being written
    sql.executemany(f"DELETE FROM taxii_ids WHERE run IN ({RUNS} UNION ALL SELECT ?) "
                    "AND object_id = ? AND share_seq = ? AND pos = ?",
                    [(writing, str(oid), share_seq, int(pos)) for oid, pos in found])


def runs(sql: Sql) -> list[tuple[int, int, int]]:
    """``(run, level, entries)`` of every run, in run order."""
    return [(int(r), int(lv), int(n)) for r, lv, n in sql.execute(
        "SELECT run, level, n FROM taxii_runs ORDER BY run").fetchall()]
