"""The store's side of backup and restore: the share rows read page by page, an online
copy of a SQLite database, a PostgreSQL snapshot to dump from, and whether a target
PostgreSQL database is empty. ``vigil.node.backup`` drives them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vigil.storage.base import Sql

# a share row as the check reads it: seq, id, header, signature, payload, wraps,
# recalled, purged, payload_ref
ShareRow = tuple[Any, ...]


def share_count(sql: Sql) -> int:
    return int(sql.execute("SELECT count(*) FROM shares").fetchone()[0])


def shares_after(sql: Sql, after: int, limit: int) -> list[ShareRow]:
    """Up to ``limit`` share rows after ``seq`` ``after``, in order."""
    rows: list[ShareRow] = sql.execute(
        "SELECT seq, id, header, signature, payload, wraps, recalled, purged, payload_ref "
        "FROM shares WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall()
    return rows


@contextmanager
def sqlite_copy(path: Path, dest: Path) -> Iterator[Sql]:
    """Copy the SQLite database ``path`` to the new file ``dest`` in one read snapshot
    while writers go on (WAL), and give the copy to read."""
    from vigil.storage.sqlite import _Sql as SqliteSql

    src = sqlite3.connect(path)  # only read; a read-only open fails on a stopped WAL node
    dst = sqlite3.connect(dest)
    try:
        src.backup(dst)  # one step: one read snapshot, writers go on (WAL)
        dst.execute("PRAGMA journal_mode=DELETE")
        yield SqliteSql(dst)
    finally:
        src.close()
        dst.close()


@contextmanager
def postgres_snapshot(conninfo: str) -> Iterator[tuple[Sql, str]]:
    """A read-only repeatable-read transaction on the database and the name of its
    exported snapshot (for ``pg_dump --snapshot``), open while the caller uses them."""
    import psycopg

    from vigil.storage.postgres import _Sql as PostgresSql

    with psycopg.connect(conninfo) as conn:
        conn.read_only = True
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        snapshot = str(conn.execute("SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
        yield PostgresSql(conn), snapshot


def postgres_is_empty(conninfo: str) -> bool:
    """The database holds no table in its current schema."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = "
                           "current_schema()").fetchone()
        return row is None or not int(row[0])
