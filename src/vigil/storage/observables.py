"""The stored observable index: the SQL of ``observables`` rows and their lookups.

Each ``observables`` row carries a key ``k`` (``vigil.analysis.keys``): a short hash of
``kind:value`` for exact values, and for IP addresses and networks the version, the
network start and the prefix length, so that one B-tree on keys answers equality and,
for IP, containment (a prefix probe per length) and inclusion (a range scan). That
B-tree is ``observable_keys`` (``(k, seq)``), filled by merges
(``vigil.analysis.pending``) up to the merged mark; the rows after the mark are found
by seq (``pending``), and a lookup reads the rows both name. Lookups return rows in the
order they were stored (oldest first) and with the originator of each row's share;
``upto`` limits them to the shares up to a share seq.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql

KEY_BATCH = 500  # keys per IN (...) probe
KEYED = "analysis.observables_keyed"  # meta: every observables row has its key
MERGED = "analysis.observables_merged"  # meta: the rows up to this seq are in observable_keys

INSERT = "INSERT INTO observables(share_seq, kind, value, k) VALUES(?,?,?,?)"

Found = tuple[int, bytes, str, str, str, str]  # seq, key, kind, value, share id, originator

_COLUMNS = "SELECT o.seq, o.k, o.kind, o.value, s.id, s.originator FROM "
_SELECT = _COLUMNS + "observables o JOIN shares s ON s.seq = o.share_seq WHERE "
_KEYED = (_COLUMNS + "observable_keys x JOIN observables o ON o.seq = x.seq "
          "JOIN shares s ON s.seq = o.share_seq WHERE ")
_OF_SHARE = "share_seq = (SELECT seq FROM shares WHERE id = ?)"


def insert(sql: Sql, rows: Iterable[tuple[str, str, str, bytes | None]]) -> None:
    """Store ``(share id, kind, value, key)`` rows (a row names its share by seq)."""
    todo = list(rows)
    ids = sorted({r[0] for r in todo})
    seqs: dict[str, int] = {}
    for i in range(0, len(ids), KEY_BATCH):
        chunk = ids[i:i + KEY_BATCH]
        seqs.update((sid, int(seq)) for sid, seq in sql.execute(
            f"SELECT id, seq FROM shares WHERE id IN ({','.join('?' * len(chunk))})",
            chunk).fetchall())
    sql.executemany(INSERT, [(seqs[sid], kind, value, k) for sid, kind, value, k in todo])


def _bound(upto: int | None) -> tuple[str, tuple[int, ...]]:
    return ("", ()) if upto is None else (" AND s.seq <= ?", (upto,))


def by_keys(sql: Sql, keys: Iterable[bytes], upto: int | None = None,
            seqs: Iterable[int] = ()) -> list[Found]:
    """The rows whose key is one of ``keys`` (oldest first): those the key index names,
    and those of ``seqs`` (rows after the merged mark) with one of the keys."""
    todo = sorted(set(keys))
    extra, bound = _bound(upto)
    out: dict[int, Found] = {}
    for i in range(0, len(todo), KEY_BATCH):
        chunk = todo[i:i + KEY_BATCH]
        out.update((f[0], f) for f in _found(sql.execute(
            _KEYED + f"x.k IN ({','.join('?' * len(chunk))}){extra}",
            (*chunk, *bound)).fetchall()))
    wanted = set(todo)
    out.update((f[0], f) for f in _by_seqs(sql, seqs, bound, extra) if f[1] in wanted)
    return sorted(out.values())


def _by_seqs(sql: Sql, seqs: Iterable[int], bound: tuple[int, ...], extra: str
             ) -> list[Found]:
    todo = sorted(set(seqs))
    out: list[Found] = []
    for i in range(0, len(todo), KEY_BATCH):
        chunk = todo[i:i + KEY_BATCH]
        out += _found(sql.execute(_SELECT + f"o.seq IN ({','.join('?' * len(chunk))}){extra}",
                                  (*chunk, *bound)).fetchall())
    return out


def _found(rows: Iterable[Sequence[Any]]) -> list[Found]:
    return [(int(seq), bytes(k), kind, value, sid, orig)
            for seq, k, kind, value, sid, orig in rows]


def in_range(sql: Sql, lo: bytes, hi: bytes, upto: int | None = None,
             seqs: Iterable[int] = ()) -> list[Found]:
    """The rows whose key lies in ``[lo, hi]`` (oldest first): those the key index names,
    and those of ``seqs`` (rows after the merged mark) in the range."""
    extra, bound = _bound(upto)
    out = {f[0]: f for f in _found(sql.execute(
        _KEYED + f"x.k >= ? AND x.k <= ?{extra}", (lo, hi, *bound)).fetchall())}
    out.update((f[0], f) for f in _by_seqs(sql, seqs, bound, extra) if lo <= f[1] <= hi)
    return sorted(out.values())


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
                "SELECT s.id, o.kind, o.value FROM shares s JOIN observables o ON "
                f"o.share_seq = s.seq WHERE s.id IN ({','.join('?' * len(chunk))})",
                chunk).fetchall():
            out.setdefault(sid, set()).add((kind, value))
    return out


def delete(sql: Sql, rows: Iterable[tuple[str, str, str]]) -> None:
    """Remove ``(share id, kind, value)`` rows (and their keys)."""
    for sid, kind, value in rows:
        _drop_keys(sql, sql.execute(f"SELECT k, seq FROM observables WHERE {_OF_SHARE} AND "
                                    "kind=? AND value=?", (sid, kind, value)).fetchall())
        sql.execute(f"DELETE FROM observables WHERE {_OF_SHARE} AND kind=? AND value=?",
                    (sid, kind, value))


def delete_share(sql: Sql, share_id: str) -> None:
    _drop_keys(sql, sql.execute(f"SELECT k, seq FROM observables WHERE {_OF_SHARE}",
                                (share_id,)).fetchall())
    sql.execute(f"DELETE FROM observables WHERE {_OF_SHARE}", (share_id,))


def _drop_keys(sql: Sql, found: Iterable[Sequence[Any]]) -> None:
    sql.executemany("DELETE FROM observable_keys WHERE k=? AND seq=?",
                    [(k, seq) for k, seq in found if k is not None])


# -- the merge (vigil.analysis.pending) --------------------------------------------------

def merged_upto(sql: Sql) -> int:
    """The merged mark: every keyed row up to this seq is in ``observable_keys``."""
    row = sql.execute("SELECT value FROM meta WHERE key=?", (MERGED,)).fetchone()
    return 0 if row is None else int(row[0])


def set_merged(sql: Sql, upto: int) -> None:
    """Move the merged mark forward to ``upto`` (never back)."""
    if upto > merged_upto(sql):
        sql.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value", (MERGED, str(upto)))


def last_seq(sql: Sql) -> int:
    row = sql.execute("SELECT MAX(seq) FROM observables").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def pending(sql: Sql, after: int, upto: int | None = None) -> list[tuple[int, bytes]]:
    """``(seq, key)`` of the keyed rows after the seq ``after`` (up to ``upto``), in seq
    order."""
    extra, bound = ("", ()) if upto is None else (" AND seq <= ?", (upto,))
    return [(int(seq), bytes(k)) for seq, k in sql.execute(
        f"SELECT seq, k FROM observables WHERE seq > ?{extra} AND k IS NOT NULL "
        "ORDER BY seq", (after, *bound)).fetchall()]


def add_keys(sql: Sql, keys: Iterable[tuple[bytes, int]]) -> None:
    """Put ``(key, seq)`` entries in the key index (an entry already there is kept)."""
    sql.executemany("INSERT INTO observable_keys(k, seq) VALUES(?,?) ON CONFLICT DO NOTHING",
                    keys)


def keyed(sql: Sql) -> bool:
    """Whether every row has its key (a store migrated with rows in it backfills once)."""
    return sql.execute("SELECT 1 FROM meta WHERE key=?", (KEYED,)).fetchone() is not None


def unkeyed(sql: Sql, after: int, limit: int) -> list[Any]:
    """``(seq, kind, value)`` of rows without a key, after a seq."""
    return sql.execute("SELECT seq, kind, value FROM observables WHERE seq > ? AND k IS NULL "
                       "ORDER BY seq LIMIT ?", (after, limit)).fetchall()


def set_keys(sql: Sql, keys: Iterable[tuple[bytes | None, int]]) -> None:
    """Give rows their key (the backfill of rows stored before keys), in the key index
    too (whatever the merged mark: these rows may lie before it)."""
    todo = list(keys)
    sql.executemany("UPDATE observables SET k=? WHERE seq=?", todo)
    add_keys(sql, [(k, seq) for k, seq in todo if k is not None])


def mark_keyed(sql: Sql) -> None:
    sql.execute("INSERT INTO meta(key, value) VALUES(?, '1') ON CONFLICT (key) DO NOTHING",
                (KEYED,))
