"""The log's tables (``vigil.storage.logtree``), on SQLite and PostgreSQL: leaves and the
nodes their appends create written one or many at a time, the log's end, entries by
range and kind, a share's entries, node hashes fetched in one statement, and on
PostgreSQL an append that only lands on the log it expects."""

from __future__ import annotations

import hashlib

from vigil.storage import Store, logtree
from vigil.storage.base import Sql


def h(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def leaf(i: int, kind: str = "share", share: str | None = None) -> logtree.Leaf:
    return (i, kind, share, f"entry {i}".encode(), h("root", i), h("proof", i))


def nodes_of(i: int) -> list[logtree.Node]:
    """The leaf hash and every perfect subtree the append of leaf ``i`` completes."""
    out = [(0, i, h(0, i))]
    level, idx = 0, i
    while idx % 2 == 1:
        level, idx = level + 1, idx // 2
        out.append((level, idx, h(level, idx)))
    return out


def test_leaves_nodes_and_reads(store: Store) -> None:
    assert store.read(logtree.end) == (0, b"")

    def write(sql: Sql) -> None:
        logtree.append(sql, nodes_of(0), leaf(0, "member"))
        logtree.append(sql, nodes_of(1), leaf(1, "share", "s1"))
        logtree.append_many(sql, [], [])
        logtree.append_many(
            sql, [*nodes_of(2), *nodes_of(3)], [leaf(2, "share", "s2"), leaf(3, "recall", "s1")]
        )

    store.write(write)
    assert store.read(logtree.end) == (4, h(0, 3))
    assert store.read(lambda sql: logtree.entries(sql, 1, 3)) == [(1, b"entry 1"), (2, b"entry 2")]
    assert store.read(lambda sql: logtree.entries(sql, 0, 9, kind="member")) == [(0, b"entry 0")]
    assert store.read(lambda sql: logtree.leaves_after(sql, 1, 1)) == [
        (2, "share", "s2", b"entry 2")
    ]
    assert store.read(lambda sql: logtree.share_entry_kinds(sql, "s1")) == [
        (1, "share"),
        (3, "recall"),
    ]
    got = store.read(lambda sql: logtree.share_leaves(sql, ["s1", "s2", "s9"]))
    assert sorted(got) == [
        ("s1", 1, h("root", 1), h("proof", 1)),
        ("s2", 2, h("root", 2), h("proof", 2)),
    ]
    wanted = [(2, 0), (1, 1), (0, 2), (5, 5)]
    assert logtree.fetch_nodes(store.query, store.dialect, wanted) == {
        (2, 0): h(2, 0),
        (1, 1): h(1, 1),
        (0, 2): h(0, 2),
    }
    assert logtree.fetch_nodes(store.query, store.dialect, []) == {}


def test_an_append_lands_only_on_the_log_it_expects(pg_url: str) -> None:
    from vigil.storage import open_store

    s = open_store(pg_url)
    try:
        assert s.write(lambda sql: logtree.append_if_last(sql, 0, b"", nodes_of(0), leaf(0)))
        assert not s.write(
            lambda sql: logtree.append_if_last(  # another wrote index 0
                sql, 0, b"", nodes_of(0), leaf(0)
            )
        )
        assert not s.write(
            lambda sql: logtree.append_if_last(  # a stale last hash
                sql, 1, h("other"), nodes_of(1), leaf(1)
            )
        )
        assert s.read(logtree.end) == (1, h(0, 0))
        assert s.write(lambda sql: logtree.append_if_last(sql, 1, h(0, 0), nodes_of(1), leaf(1)))
        assert s.read(logtree.end) == (2, h(0, 1))
        assert logtree.fetch_nodes(s.query, s.dialect, [(1, 0)]) == {(1, 0): h(1, 0)}
    finally:
        s.close()
