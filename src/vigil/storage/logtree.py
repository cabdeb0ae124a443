"""The log's tables: ``log_leaves`` (each entry, with the root of the tree it completed
and its inclusion proof there) and ``log_nodes`` (every perfect subtree hash, level 0
being the leaf hashes). ``vigil.log.tree`` computes; this module reads and writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vigil.storage.base import Sql

Key = tuple[int, int]  # (level, index) of a node
# a leaf row: index, kind, share id, entry bytes, root, proof
Leaf = tuple[int, str, str | None, bytes, bytes, bytes]
Node = tuple[int, int, bytes]  # level, index, hash

# PostgreSQL: the leaf and its nodes in one statement; the _IF form writes them only if
# the log still ends with the leaf this process last saw (index and hash), and says so.
_PG_APPEND = (
    "WITH n AS (INSERT INTO log_nodes(level, idx, hash) "
    "SELECT * FROM unnest(?::int[], ?::bigint[], ?::bytea[])) "
    "INSERT INTO log_leaves(idx, kind, share_id, data, root, proof) VALUES(?,?,?,?,?,?)"
)
_PG_APPEND_IF = (
    "WITH last AS (SELECT idx, hash FROM log_nodes WHERE level = 0 "
    "ORDER BY idx DESC LIMIT 1), "
    "ok AS (SELECT 1 AS one WHERE COALESCE((SELECT idx FROM last), -1) = ?::bigint "
    "AND (?::bigint = 0 OR (SELECT hash FROM last WHERE idx = ?::bigint) = ?::bytea)), "
    "n AS (INSERT INTO log_nodes(level, idx, hash) SELECT u.* FROM "
    "unnest(?::int[], ?::bigint[], ?::bytea[]) AS u CROSS JOIN ok), "
    "l AS (INSERT INTO log_leaves(idx, kind, share_id, data, root, proof) "
    "SELECT ?::bigint, ?::text, ?::text, ?::bytea, ?::bytea, ?::bytea FROM ok RETURNING idx) "
    "SELECT count(*) FROM l"
)


def _columns(nodes: Sequence[Node]) -> tuple[list[int], list[int], list[bytes]]:
    """Nodes as the three arrays PostgreSQL's ``unnest`` takes."""
    return [n[0] for n in nodes], [n[1] for n in nodes], [n[2] for n in nodes]


def append_if_last(sql: Sql, size: int, last: bytes, nodes: Sequence[Node], leaf: Leaf
                   ) -> bool:
    """PostgreSQL: write the leaf and the nodes its append creates only if the log has
    ``size`` entries and its last leaf hash is ``last``, in one round trip; whether it
    did."""
    got = sql.execute(_PG_APPEND_IF, (size - 1, size, size - 1, last, *_columns(nodes),
                                      *leaf)).fetchone()
    return got is not None and bool(got[0])


def append(sql: Sql, nodes: Sequence[Node], leaf: Leaf) -> None:
    """Write a leaf and the nodes its append creates."""
    if sql.dialect == "postgresql":
        sql.execute(_PG_APPEND, (*_columns(nodes), *leaf))
    else:
        sql.executemany("INSERT INTO log_nodes(level, idx, hash) VALUES(?,?,?)", nodes)
        sql.execute("INSERT INTO log_leaves(idx, kind, share_id, data, root, proof) "
                    "VALUES(?,?,?,?,?,?)", leaf)


_PG_APPEND_MANY = (
    "WITH n AS (INSERT INTO log_nodes(level, idx, hash) "
    "SELECT * FROM unnest(?::int[], ?::bigint[], ?::bytea[])) "
    "INSERT INTO log_leaves(idx, kind, share_id, data, root, proof) "
    "SELECT * FROM unnest(?::bigint[], ?::text[], ?::text[], ?::bytea[], ?::bytea[], "
    "?::bytea[])"
)


def append_many(sql: Sql, nodes: Sequence[Node], leaves: Sequence[Leaf]) -> None:
    """Write several leaves, in order, and the nodes their appends create."""
    if not leaves:
        return
    if sql.dialect == "postgresql":
        sql.execute(_PG_APPEND_MANY, (*_columns(nodes),
                                      *([leaf[k] for leaf in leaves] for k in range(6))))
    else:
        sql.executemany("INSERT INTO log_nodes(level, idx, hash) VALUES(?,?,?)", nodes)
        sql.executemany("INSERT INTO log_leaves(idx, kind, share_id, data, root, proof) "
                        "VALUES(?,?,?,?,?,?)", leaves)


def fetch_nodes(query: Callable[[str, Sequence[Any]], list[Any]], dialect: str,
                keys: Iterable[Key]) -> dict[Key, bytes]:
    """The stored hashes of these nodes, in one statement (``query`` runs it). A proof
    or a compact range needs at most 2·log2(n) + 1 of them."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    if dialect == "postgresql":
        # one index probe per node, joined to the list of wanted keys
        rows = query(
            "SELECT n.level, n.idx, n.hash FROM unnest(?::int[], ?::bigint[]) AS "
            "k(level, idx) JOIN log_nodes n ON n.level = k.level AND n.idx = k.idx",
            ([k[0] for k in wanted], [k[1] for k in wanted]))
    else:
        rows = query("SELECT level, idx, hash FROM log_nodes WHERE "
                     + " OR ".join(["(level=? AND idx=?)"] * len(wanted)),
                     [x for k in wanted for x in k])
    return {(int(lv), int(ix)): bytes(h) for lv, ix, h in rows}


def end(sql: Sql) -> tuple[int, bytes]:
    """The log's size and its last leaf hash (empty for an empty log)."""
    row = sql.execute(
        "SELECT idx, hash FROM log_nodes WHERE level=0 ORDER BY idx DESC LIMIT 1"
    ).fetchone()
    return (0, b"") if row is None else (int(row[0]) + 1, bytes(row[1]))


def entries(sql: Sql, start: int, stop: int, *, kind: str | None = None
            ) -> list[tuple[int, bytes]]:
    """``(index, entry bytes)`` for ``start <= index < stop`` (of one ``kind`` only)."""
    if kind is None:
        rows = sql.execute("SELECT idx, data FROM log_leaves WHERE idx>=? AND idx<? "
                           "ORDER BY idx", (start, stop)).fetchall()
    else:
        rows = sql.execute("SELECT idx, data FROM log_leaves WHERE idx>=? AND idx<? "
                           "AND kind=? ORDER BY idx", (start, stop, kind)).fetchall()
    return [(int(i), bytes(d)) for i, d in rows]


def leaves_after(sql: Sql, after: int, limit: int
                 ) -> list[tuple[int, str, str | None, bytes]]:
    """``(index, kind, share id, entry bytes)`` of up to ``limit`` leaves after index
    ``after``, in order."""
    rows = sql.execute("SELECT idx, kind, share_id, data FROM log_leaves WHERE idx > ? "
                       "ORDER BY idx LIMIT ?", (after, limit)).fetchall()
    return [(int(i), str(k), s, bytes(d)) for i, k, s, d in rows]


def share_leaves(sql: Sql, share_ids: Sequence[str]) -> list[tuple[str, int, bytes, bytes]]:
    """``(share id, index, root, proof)`` of each share's ``share`` entry."""
    marks = ",".join("?" * len(share_ids))
    rows = sql.execute("SELECT share_id, idx, root, proof FROM log_leaves "
                       f"WHERE kind='share' AND share_id IN ({marks})",
                       list(share_ids)).fetchall()
    return [(str(s), int(i), bytes(r), bytes(p)) for s, i, r, p in rows]


def share_entry_kinds(sql: Sql, share_id: str) -> list[tuple[int, str]]:
    """``(index, kind)`` of every entry about a share."""
    rows = sql.execute("SELECT idx, kind FROM log_leaves WHERE share_id=? ORDER BY idx",
                       (share_id,)).fetchall()
    return [(int(i), str(k)) for i, k in rows]
