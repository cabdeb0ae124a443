"""Reads for the node's health views (``vigil doctor`` and the metrics gauges)."""

from __future__ import annotations

from vigil.storage.base import Sql


def database_clock(sql: Sql) -> float | None:
    """The database server's clock (epoch seconds); None for an embedded store."""
    if sql.dialect != "postgresql":
        return None
    return float(sql.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()[0])


def newest_inbox_time(sql: Sql) -> str | None:
    """When the newest inbox row was added."""
    got = sql.execute("SELECT max(added) FROM inbox").fetchone()[0]
    return None if got is None else str(got)


def log_size(sql: Sql) -> int:
    """The number of leaves in the transparency log."""
    size = sql.execute("SELECT max(idx) FROM log_leaves").fetchone()[0]
    return 0 if size is None else int(size) + 1


def last_share_seq(sql: Sql) -> int:
    """The seq of the newest share stored (0 for none)."""
    return int(sql.execute("SELECT max(seq) FROM shares").fetchone()[0] or 0)
