"""The stored observable index: the SQL of ``observables`` rows and their lookups.

Each ``observables`` row carries a key ``k`` (``vigil.analysis.keys``): a short hash of
``kind:value`` for exact values, and for IP addresses and networks the version, the
network start and the prefix length, so that one B-tree on ``k`` answers equality and,
for IP, containment (a prefix probe per length) and inclusion (a range scan). Lookups
return rows in the order they were stored (oldest first) and with the originator of
each row's share; ``upto`` limits them to the shares up to a share seq.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql

KEY_BATCH = 500  # keys per IN (...) probe
KEYED = "analysis.observables_keyed"  # meta: every observables row has its key

INSERT = "INSERT INTO observables(share_id, kind, value, k) VALUES(?,?,?,?)"

Found = tuple[int, bytes, str, str, str, str]  # seq, key, kind, value, share id, originator

_SELECT = ("SELECT o.seq, o.k, o.kind, o.value, o.share_id, s.originator FROM observables o "
           "JOIN shares s ON s.id = o.share_id WHERE ")


def insert(sql: Sql, rows: Iterable[tuple[str, str, str, bytes | None]]) -> None:
    """Store ``(share id, kind, value, key)`` rows."""
    sql.executemany(INSERT, rows)


def _bound(upto: int | None) -> tuple[str, tuple[int, ...]]:
    return ("", ()) if upto is None else (" AND s.seq <= ?", (upto,))


def by_keys(sql: Sql, keys: Iterable[bytes], upto: int | None = None) -> list[Found]:
    """The rows whose key is one of ``keys`` (oldest first)."""
    todo = sorted(set(keys))
    extra, bound = _bound(upto)
    out: list[Found] = []
    for i in range(0, len(todo), KEY_BATCH):
        chunk = todo[i:i + KEY_BATCH]
        out += _found(sql.execute(_SELECT + f"o.k IN ({','.join('?' * len(chunk))}){extra}",
                                  (*chunk, *bound)).fetchall())
    out.sort()
    return out


def _found(rows: Iterable[Sequence[Any]]) -> list[Found]:
    return [(int(seq), bytes(k), kind, value, sid, orig)
            for seq, k, kind, value, sid, orig in rows]


def in_range(sql: Sql, lo: bytes, hi: bytes, upto: int | None = None) -> list[Found]:
    """The rows whose key lies in ``[lo, hi]`` (oldest first)."""
    extra, bound = _bound(upto)
    return _found(sql.execute(_SELECT + f"o.k >= ? AND o.k <= ?{extra} ORDER BY o.seq",
                              (lo, hi, *bound)).fetchall())


def ip_lens(sql: Sql) -> set[tuple[int, int]]:
    """The (IP version, prefix length) pairs stored rows use (a superset)."""
    return {(int(v), int(p)) for v, p in sql.execute(
        "SELECT version, plen FROM observable_ip_lens").fetchall()}


def add_ip_lens(sql: Sql, lens: Iterable[tuple[int, int]]) -> None:
    sql.executemany("INSERT INTO observable_ip_lens(version, plen) VALUES(?,?) "
                    "ON CONFLICT DO NOTHING", sorted(set(lens)))


def of_shares(sql: Sql, share_ids: Sequence[str]) -> dict[str, set[tuple[str, str]]]:
    """The stored ``(kind, value)`` pairs of each of ``share_ids``."""
    out: dict[str, set[tuple[str, str]]] = {}
    for i in range(0, len(share_ids), KEY_BATCH):
        chunk = list(share_ids[i:i + KEY_BATCH])
        for sid, kind, value in sql.execute(
                "SELECT share_id, kind, value FROM observables WHERE share_id IN "
                f"({','.join('?' * len(chunk))})", chunk).fetchall():
            out.setdefault(sid, set()).add((kind, value))
    return out


def delete(sql: Sql, rows: Iterable[tuple[str, str, str]]) -> None:
    """Remove ``(share id, kind, value)`` rows."""
    sql.executemany("DELETE FROM observables WHERE share_id=? AND kind=? AND value=?", rows)


def delete_share(sql: Sql, share_id: str) -> None:
    sql.execute("DELETE FROM observables WHERE share_id=?", (share_id,))


def keyed(sql: Sql) -> bool:
    """Whether every row has its key (a store migrated with rows in it backfills once)."""
    return sql.execute("SELECT 1 FROM meta WHERE key=?", (KEYED,)).fetchone() is not None


def unkeyed(sql: Sql, after: int, limit: int) -> list[Any]:
    """``(seq, kind, value)`` of rows without a key, after a seq."""
    return sql.execute("SELECT seq, kind, value FROM observables WHERE seq > ? AND k IS NULL "
                       "ORDER BY seq LIMIT ?", (after, limit)).fetchall()


def set_keys(sql: Sql, keys: Iterable[tuple[bytes | None, int]]) -> None:
    sql.executemany("UPDATE observables SET k=? WHERE seq=?", keys)


def mark_keyed(sql: Sql) -> None:
    sql.execute("INSERT INTO meta(key, value) VALUES(?, '1') ON CONFLICT (key) DO NOTHING",
                (KEYED,))
