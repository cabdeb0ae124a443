"""The feed tables (``feeds``, ``feed_seen``, ``feed_pushed``, ``feed_rejects``): every
statement of ``vigil.feeds.registry``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql

COLUMNS = ("name, url, collection, member_id, tlp, audience, every_s, auth, cursor, created, "
           "last_pull, last_error, lease_until, fetched, published, shares, duplicates, "
           "rejected, cursor_keys, lease_owner, kind")
CHUNK = 200  # object ids per query


def feed_exists(sql: Sql, name: str) -> bool:
    return sql.execute("SELECT 1 FROM feeds WHERE name = ?", (name,)).fetchone() is not None


def insert_feed(sql: Sql, row: Sequence[Any]) -> None:
    """A feed row, its values in the order of ``COLUMNS``."""
    marks = ", ".join("?" * len(COLUMNS.split(",")))
    sql.execute(f"INSERT INTO feeds ({COLUMNS}) VALUES ({marks})", tuple(row))


def feed_row(sql: Sql, name: str) -> Any:
    """One feed's row (``COLUMNS``), None if there is none."""
    return sql.execute(f"SELECT {COLUMNS} FROM feeds WHERE name = ?", (name,)).fetchone()


def feed_rows(sql: Sql) -> list[Any]:
    return list(sql.execute(f"SELECT {COLUMNS} FROM feeds ORDER BY name").fetchall())


def delete_feed(sql: Sql, name: str) -> None:
    """A feed with what it has seen and refused."""
    sql.execute("DELETE FROM feed_seen WHERE feed = ?", (name,))
    sql.execute("DELETE FROM feed_rejects WHERE feed = ?", (name,))
    sql.execute("DELETE FROM feeds WHERE name = ?", (name,))


def take_lease(sql: Sql, name: str, until: str, owner: str, seen: str | None) -> bool:
    """Compare-and-set the feed's lease on the value read (``seen``)."""
    if seen is None:
        cur = sql.execute("UPDATE feeds SET lease_until = ?, lease_owner = ? "
                          "WHERE name = ? AND lease_until IS NULL", (until, owner, name))
    else:
        cur = sql.execute("UPDATE feeds SET lease_until = ?, lease_owner = ? "
                          "WHERE name = ? AND lease_until = ?", (until, owner, name, seen))
    return cur.rowcount == 1


def end_pull(sql: Sql, name: str, pulled_at: str, error: str | None,
             counts: Sequence[int]) -> None:
    """Drop the lease and add a pull's counts (fetched, published, shares, duplicates,
    rejected)."""
    sql.execute(
        "UPDATE feeds SET lease_until = NULL, lease_owner = NULL, last_pull = ?, "
        "last_error = ?, fetched = fetched + ?, published = published + ?, "
        "shares = shares + ?, duplicates = duplicates + ?, rejected = rejected + ? "
        "WHERE name = ?", (pulled_at, error, *counts, name))


def update_cursor(sql: Sql, name: str, cursor: str, keys_json: str) -> None:
    sql.execute("UPDATE feeds SET cursor = ?, cursor_keys = ? WHERE name = ?",
                (cursor, keys_json, name))


def _pairs(sql: Sql, table: str, column: str, owner: str,
           keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for i in range(0, len(keys), CHUNK):
        ids = sorted({k[0] for k in keys[i:i + CHUNK]})
        marks = ", ".join("?" for _ in ids)
        rows = sql.execute(f"SELECT object_id, version FROM {table} WHERE {column} = ? "
                           f"AND object_id IN ({marks})", (owner, *ids)).fetchall()
        out.update((str(r[0]), str(r[1])) for r in rows)
    return out & set(keys)


def seen_pairs(sql: Sql, feed: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (object id, version) pairs the feed already published."""
    return _pairs(sql, "feed_seen", "feed", feed, keys)


def pushed_pairs(sql: Sql, target: str, keys: Sequence[tuple[str, str]]
                 ) -> set[tuple[str, str]]:
    """Which of these pairs a push already delivered to target."""
    return _pairs(sql, "feed_pushed", "target", target, keys)


def insert_seen(sql: Sql, rows: Iterable[Sequence[str]]) -> None:
    """(feed, object id, version, share id) rows; pairs seen before are kept."""
    sql.executemany(
        "INSERT INTO feed_seen (feed, object_id, version, share_id) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (feed, object_id, version) DO NOTHING", list(rows))


def insert_pushed(sql: Sql, rows: Iterable[Sequence[str]]) -> None:
    sql.executemany(
        "INSERT INTO feed_pushed (target, object_id, version) VALUES (?, ?, ?) "
        "ON CONFLICT (target, object_id, version) DO NOTHING", list(rows))


def upsert_rejects(sql: Sql, rows: Iterable[Sequence[str]]) -> None:
    """(feed, object id, version, code, pointer, message, at) rows; a later refusal of
    the same pair replaces the earlier one."""
    sql.executemany(
        "INSERT INTO feed_rejects (feed, object_id, version, code, pointer, message, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed, object_id, version) DO UPDATE SET "
        "code = excluded.code, pointer = excluded.pointer, message = excluded.message, "
        "at = excluded.at", list(rows))


def reject_rows(sql: Sql, feed: str, limit: int) -> list[Any]:
    return list(sql.execute(
        "SELECT object_id, version, code, pointer, message, at FROM feed_rejects "
        "WHERE feed = ? ORDER BY at DESC, object_id LIMIT ?", (feed, limit)).fetchall())
