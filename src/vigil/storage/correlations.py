"""The ``correlations`` table and the reads of shares that correlation passes make:
every statement of ``vigil.analysis.correlate``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql

CORRELATED_KEY = "analysis.correlated_seq"  # meta: the last share seq correlated
LOCK_KEY = 0x76696769_6C6F6273  # "vigilobs": the advisory lock of correlation passes
CHUNK = 500  # ids per query
ROW_COLUMNS = "member_id, share_id, other_id, kind, value, other_value"


def _marks(n: int) -> str:
    return ",".join("?" * n)


def lock_passes(sql: Sql) -> None:
    """One correlation pass at a time across the node (PostgreSQL; SQLite's writer is
    alone already)."""
    if sql.dialect == "postgresql":
        sql.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY,))


def correlation_mark(sql: Sql) -> int:
    """The seq of the last share correlated."""
    row = sql.execute("SELECT value FROM meta WHERE key=?", (CORRELATED_KEY,)).fetchone()
    return int(row[0]) if row else 0


def set_mark(sql: Sql, upto: int) -> None:
    sql.execute("INSERT INTO meta(key, value) VALUES(?,?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (CORRELATED_KEY, str(upto)))


def last_share(sql: Sql) -> int:
    """The seq of the newest share stored (0 for none)."""
    return int(sql.execute("SELECT max(seq) FROM shares").fetchone()[0] or 0)


def share_count(sql: Sql) -> int:
    return int(sql.execute("SELECT count(*) FROM shares").fetchone()[0])


def insert_rows(sql: Sql, rows: Iterable[Sequence[Any]]) -> None:
    """(member, share, other, kind, value, other value, pos) rows."""
    sql.executemany(f"INSERT INTO correlations({ROW_COLUMNS}, pos) VALUES(?,?,?,?,?,?,?)",
                    list(rows))


def delete_of_share(sql: Sql, share_id: str) -> None:
    sql.execute("DELETE FROM correlations WHERE share_id=? OR other_id=?",
                (share_id, share_id))


def share_headers_states(sql: Sql, ids: Sequence[str]) -> list[Any]:
    """(id, header, recalled, purged) of these shares."""
    out: list[Any] = []
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        out += sql.execute(f"SELECT id, header, recalled, purged FROM shares WHERE id IN "
                           f"({_marks(len(chunk))})", chunk).fetchall()
    return out


def payload_removed(sql: Sql, ids: Sequence[str]) -> set[str]:
    """The shares among ``ids`` whose payload was removed (recalled or purged)."""
    out: set[str] = set()
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        out.update(str(r[0]) for r in sql.execute(
            f"SELECT id FROM shares WHERE id IN ({_marks(len(chunk))}) AND payload IS NULL",
            chunk).fetchall())
    return out


def shares_after(sql: Sql, after: int, limit: int) -> list[Any]:
    """(seq, id, originator, header, payload) of the shares after ``after``."""
    return list(sql.execute("SELECT seq, id, originator, header, payload FROM shares "
                            "WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall())


def next_shares(sql: Sql, after: int, limit: int) -> list[Any]:
    """(seq, id, originator, payload removed) of the shares after ``after``."""
    return list(sql.execute("SELECT seq, id, originator, payload IS NULL FROM shares "
                            "WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)).fetchall())


def payloads(sql: Sql, ids: Sequence[str]) -> list[Any]:
    """(id, header, payload) of these shares that still hold their payload."""
    out: list[Any] = []
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        out += sql.execute(f"SELECT id, header, payload FROM shares WHERE id IN "
                           f"({_marks(len(chunk))}) AND payload IS NOT NULL", chunk).fetchall()
    return out


def members_since(sql: Sql, last: int | None) -> tuple[int, list[str]]:
    """The newest correlation row's seq, and the members given rows after ``last``
    (none when ``last`` is None)."""
    top = int(sql.execute("SELECT coalesce(max(seq), 0) FROM correlations").fetchone()[0])
    if last is None or top <= last:
        return top, []
    return top, [str(r[0]) for r in sql.execute(
        "SELECT DISTINCT member_id FROM correlations WHERE seq > ? AND seq <= ?",
        (last, top)).fetchall()]


def member_rows(sql: Sql, member: str, after: int, limit: int) -> list[Any]:
    """(pos, share, other, kind, value, other value) of a member's rows after ``after``."""
    return list(sql.execute(
        "SELECT pos, share_id, other_id, kind, value, other_value "
        "FROM correlations WHERE member_id=? AND pos > ? ORDER BY pos LIMIT ?",
        (member, after, limit)).fetchall())


def same_value_rows(sql: Sql, member: str, upto: int, own_ids: Sequence[str]) -> list[Any]:
    """A member's rows up to position ``upto`` of these own shares whose two values are
    the same (pos, share, other, kind, value, other value)."""
    out: list[Any] = []
    for i in range(0, len(own_ids), CHUNK):
        chunk = own_ids[i:i + CHUNK]
        out += sql.execute(
            "SELECT pos, share_id, other_id, kind, value, other_value FROM "
            f"correlations WHERE member_id=? AND pos <= ? AND share_id IN "
            f"({_marks(len(chunk))}) AND value = other_value", (member, upto, *chunk)).fetchall()
    return out


def rows_naming(sql: Sql, ids: Sequence[str]) -> set[tuple[Any, ...]]:
    """The stored rows (``ROW_COLUMNS``) that name any of ``ids`` as either side."""
    out: set[tuple[Any, ...]] = set()
    for i in range(0, len(ids), CHUNK):
        chunk = list(ids[i:i + CHUNK])
        marks = _marks(len(chunk))
        out.update(tuple(r) for r in sql.execute(
            f"SELECT {ROW_COLUMNS} FROM correlations "
            f"WHERE share_id IN ({marks}) OR other_id IN ({marks})", (*chunk, *chunk)
        ).fetchall())
    return out
