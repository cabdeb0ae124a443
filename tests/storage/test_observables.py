"""The stored observable index (``vigil.storage.observables``), on SQLite and PostgreSQL:
rows found by key or key range through the key index once merged and through their seqs
before, oldest first with their share and originator, bounded by share seq; rows and
their keys removed; the merged mark only moves forward; rows stored without a key are
given theirs."""

from __future__ import annotations

from tests.storage.conftest import envelope, member

from vigil.storage import Store
from vigil.storage import observables as ob
from vigil.storage.base import Sql


def setup(store: Store) -> tuple[str, list[str]]:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    envs = [envelope(a.id, [b.id]) for _ in range(3)]
    for env in envs:
        store.put_share(env, [b.id], "t")
    s1, s2, s3 = (e.id for e in envs)
    store.write(
        lambda sql: ob.insert(
            sql,
            [
                (s1, "ip", "192.0.2.1", b"\x04\x01"),
                (s1, "domain", "a.example", b"\x09a"),
                (s2, "ip", "192.0.2.0/24", b"\x04\x02"),
                (s3, "ip", "192.0.2.1", b"\x04\x01"),
                (s3, "url", "http://x.example/", None),
            ],
        )
    )
    return a.id, [s1, s2, s3]


def test_rows_are_found_before_and_after_the_merge(store: Store) -> None:
    orig, (s1, s2, s3) = setup(store)
    assert store.read(lambda sql: ob.by_keys(sql, [b"\x04\x01"])) == []  # not merged yet
    todo = store.read(lambda sql: ob.pending(sql, 0))
    assert [k for _, k in todo] == [b"\x04\x01", b"\x09a", b"\x04\x02", b"\x04\x01"]
    seqs = [s for s, _ in todo]
    found = store.read(lambda sql: ob.by_keys(sql, [b"\x04\x01"], seqs=seqs))
    assert [(f[4], f[5]) for f in found] == [(s1, orig), (s3, orig)]
    # merge the first three rows; the fourth stays pending
    store.write(lambda sql: ob.add_keys(sql, [(k, s) for s, k in todo[:3]]))
    store.write(lambda sql: ob.set_merged(sql, seqs[2]))
    store.write(lambda sql: ob.set_merged(sql, seqs[0]))  # never back
    assert store.read(ob.merged_upto) == seqs[2]
    rest = [s for s, _ in store.read(lambda sql: ob.pending(sql, seqs[2]))]
    assert rest == [seqs[3]]
    found = store.read(lambda sql: ob.by_keys(sql, [b"\x04\x01", b"\x09a"], seqs=rest))
    assert [(f[2], f[3], f[4]) for f in found] == [
        ("ip", "192.0.2.1", s1),
        ("domain", "a.example", s1),
        ("ip", "192.0.2.1", s3),
    ]
    upto = store.read(
        lambda sql: int(sql.execute("SELECT seq FROM shares WHERE id=?", (s2,)).fetchone()[0])
    )
    assert [
        f[4] for f in store.read(lambda sql: ob.by_keys(sql, [b"\x04\x01"], upto=upto, seqs=rest))
    ] == [s1]
    ranged = store.read(lambda sql: ob.in_range(sql, b"\x04", b"\x04\xff", seqs=rest))
    assert [f[4] for f in ranged] == [s1, s2, s3]
    assert store.read(lambda sql: ob.of_shares(sql, [s1, s2])) == {
        s1: {("ip", "192.0.2.1"), ("domain", "a.example")},
        s2: {("ip", "192.0.2.0/24")},
    }
    store.write(lambda sql: ob.delete(sql, [(s1, "ip", "192.0.2.1")]))
    store.write(lambda sql: ob.delete_share(sql, s2))
    assert store.read(lambda sql: ob.of_shares(sql, [s1, s2])) == {s1: {("domain", "a.example")}}
    left = store.read(lambda sql: sql.execute("SELECT COUNT(*) FROM observable_keys").fetchone()[0])
    assert left == 1  # only a.example's key stays in the index


def test_rows_without_a_key_are_given_theirs(store: Store) -> None:
    _orig, ids = setup(store)
    assert store.read(ob.keyed)  # a new store has every row keyed
    store.write(lambda sql: sql.execute("DELETE FROM meta WHERE key=?", (ob.KEYED,)))
    assert not store.read(ob.keyed)  # as a store migrated with rows in it
    last = store.read(ob.last_seq)
    unkeyed = store.read(lambda sql: ob.unkeyed(sql, 0, 10))
    assert [(r[1], r[2]) for r in unkeyed] == [("url", "http://x.example/")]
    assert int(unkeyed[0][0]) == last

    def backfill(sql: Sql) -> None:
        ob.set_keys(sql, [(b"\x0bu", int(unkeyed[0][0]))])
        ob.mark_keyed(sql)
        ob.mark_keyed(sql)

    store.write(backfill)
    assert store.read(ob.keyed)
    assert store.read(lambda sql: ob.unkeyed(sql, 0, 10)) == []
    assert [f[4] for f in store.read(lambda sql: ob.by_keys(sql, [b"\x0bu"]))] == [ids[2]]
    store.write(lambda sql: ob.add_ip_lens(sql, [(4, 32), (4, 24), (4, 32)]))
    store.write(lambda sql: ob.add_ip_lens(sql, [(6, 128)]))
    assert store.read(ob.ip_lens) == {(4, 32), (4, 24), (6, 128)}
