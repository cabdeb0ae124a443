"""The federation tables (``vigil.storage.federation``), on SQLite and PostgreSQL: each
destination's outbox numbered without gaps and its link's acknowledgements, each origin's
cursor and heartbeat, quarantined items with their evidence, members homed at other
nodes, scan marks, log leaves read by kind and by share, and the one sender lease of a
node."""

from __future__ import annotations

from vigil.storage import Store, logtree
from vigil.storage import federation as fed
from vigil.storage.base import Sql


def test_outbox_and_links(store: Store) -> None:
    assert store.read(lambda sql: fed.link(sql, "berlin")) == (0, 0, None, None, None)

    def fill(sql: Sql) -> list[int]:
        return [
            fed.enqueue(sql, "berlin", "share", "s1", "t1"),
            fed.enqueue(sql, "athens", "share", "s1", "t1"),
            fed.enqueue(sql, "berlin", "recall", "s1", "t2"),
            fed.enqueue(sql, "berlin", "share", "s2", "t3"),
        ]

    assert store.write(fill) == [1, 1, 2, 3]  # per destination, no gap
    assert store.read(lambda sql: fed.pending(sql, "berlin", 1, 10)) == [
        (2, "recall", "s1", "t2"),
        (3, "share", "s2", "t3"),
    ]
    assert store.read(lambda sql: fed.pending(sql, "berlin", 0, 1)) == [(1, "share", "s1", "t1")]
    store.write(lambda sql: fed.set_error(sql, "berlin", "refused"))
    assert store.read(lambda sql: fed.link(sql, "berlin")) == (3, 0, None, None, "refused")
    store.write(lambda sql: fed.set_acked(sql, "berlin", 2, "t5"))
    assert store.read(lambda sql: fed.link(sql, "berlin")) == (3, 2, "t5", "t5", None)
    assert store.read(lambda sql: fed.oldest_unacked(sql, "berlin", 2)) == "t3"
    assert store.read(lambda sql: fed.oldest_unacked(sql, "berlin", 3)) is None
    store.write(lambda sql: fed.set_error(sql, "cairo", "unreachable"))  # a link not used
    assert store.read(lambda sql: fed.link(sql, "cairo")) == (0, 0, None, None, "unreachable")


def test_cursors_heartbeats_and_quarantine(store: Store) -> None:
    assert store.read(lambda sql: fed.cursor(sql, "athens")) == (0, 0, None, None, None)
    store.write(lambda sql: fed.set_heartbeat(sql, "athens", 9, "t1", "paused"))
    store.write(lambda sql: fed.set_cursor(sql, "athens", 4, "t2"))
    assert store.read(lambda sql: fed.cursor(sql, "athens")) == (4, 9, "t2", "t1", "paused")
    assert fed.read_cursor(store, "athens") == 4
    store.write(lambda sql: fed.set_withheld(sql, "athens", None))
    store.write(lambda sql: fed.set_heartbeat(sql, "athens", 12, "t3", None))
    assert store.read(lambda sql: fed.cursor(sql, "athens")) == (4, 12, "t2", "t3", None)

    def bad(sql: Sql) -> None:
        fed.quarantine(sql, "athens", 5, "share", "share.signature", "bad", b"ev-1", "t4")
        fed.quarantine(sql, "berlin", None, "batch", "batch.malformed", "bad", b"ev-2", "t5")

    store.write(bad)
    every = store.read(lambda sql: fed.quarantined(sql))
    assert [(q["origin"], q["dseq"]) for q in every] == [("berlin", None), ("athens", 5)]
    only = store.read(lambda sql: fed.quarantined(sql, "athens"))
    assert [q["code"] for q in only] == ["share.signature"]
    assert store.read(lambda sql: fed.evidence(sql, only[0]["seq"])) == b"ev-1"
    assert store.read(lambda sql: fed.evidence(sql, 10_000)) is None


def test_remote_members_and_scans(store: Store) -> None:
    def homed(sql: Sql) -> None:
        sql.execute(
            "INSERT INTO fed_members(member_id, node_id, log_index, revoked_index) VALUES(?,?,?,?)",
            ("identity--x", "node-b", 4, None),
        )
        sql.execute(
            "INSERT INTO fed_members(member_id, node_id, log_index, revoked_index) VALUES(?,?,?,?)",
            ("identity--y", "node-b", 5, 8),
        )

    store.write(homed)
    assert store.read(lambda sql: fed.home_nodes(sql, ["identity--x", "identity--z"])) == {
        "identity--x": "node-b"
    }
    assert store.read(lambda sql: fed.home_nodes(sql, [])) == {}
    assert store.read(lambda sql: fed.remote_member(sql, "identity--y")) == ("node-b", 5, 8)
    assert store.read(lambda sql: fed.remote_member(sql, "identity--z")) is None
    assert sorted(store.read(lambda sql: fed.hosted_by(sql, "node-b"))) == [
        "identity--x",
        "identity--y",
    ]
    assert store.read(lambda sql: fed.scan_at(sql, "members", "berlin")) == 0
    store.write(lambda sql: fed.set_scan(sql, "members", "berlin", 3))
    store.write(lambda sql: fed.set_scan(sql, "members", "berlin", 7))
    store.write(lambda sql: fed.set_scan(sql, "members", "athens", 2))
    assert store.read(lambda sql: fed.scan_at(sql, "members", "berlin")) == 7
    store.write(lambda sql: fed.reset_scans(sql, "berlin"))
    assert store.read(lambda sql: fed.scan_at(sql, "members", "berlin")) == 0
    assert store.read(lambda sql: fed.scan_at(sql, "members", "athens")) == 2


def test_log_leaves_by_kind_and_share(store: Store) -> None:
    assert store.read(fed.log_end) == 0
    leaves = [
        (0, "member", None, b"m", b"r0", b"p0"),
        (1, "share", "s1", b"a", b"r1", b"p1"),
        (2, "receipt", "s1", b"b", b"r2", b"p2"),
        (3, "share", "s2", b"c", b"r3", b"p3"),
        (4, "recall", "s1", b"d", b"r4", b"p4"),
    ]
    store.write(
        lambda sql: logtree.append_many(sql, [(0, i, bytes([i])) for i in range(5)], leaves)
    )
    assert store.read(fed.log_end) == 5
    assert store.read(lambda sql: fed.log_leaves(sql, ["share", "recall"], 2, 10)) == [
        (3, "share", b"c"),
        (4, "recall", b"d"),
    ]
    assert store.read(lambda sql: fed.leaf(sql, 2)) == (b"b", b"r2", b"p2")
    assert store.read(lambda sql: fed.leaf(sql, 9)) is None
    assert store.read(lambda sql: fed.leaf_of(sql, "s1", "recall")) == (4, b"d", b"r4", b"p4")
    assert store.read(lambda sql: fed.leaf_of(sql, "s2", "recall")) is None
    assert store.read(lambda sql: fed.leaves_of(sql, ["s1", "s2", "s1", "s9"], "share")) == {
        "s1": (1, b"a", b"r1", b"p1"),
        "s2": (3, b"c", b"r3", b"p3"),
    }


def test_one_sender_lease_per_node(store: Store) -> None:
    assert store.write(lambda sql: fed.take_lease(sql, "w1", 100.0, 30))
    assert not store.write(lambda sql: fed.take_lease(sql, "w2", 110.0, 30))
    assert store.write(lambda sql: fed.take_lease(sql, "w1", 125.0, 30))  # renewed
    assert not store.write(lambda sql: fed.take_lease(sql, "w2", 150.0, 30))
    assert store.write(lambda sql: fed.take_lease(sql, "w2", 156.0, 30))  # it ran out
    store.write(lambda sql: fed.drop_lease(sql, "w1"))  # not w1's: kept
    assert not store.write(lambda sql: fed.take_lease(sql, "w1", 160.0, 30))
    store.write(lambda sql: fed.drop_lease(sql, "w2"))
    assert store.write(lambda sql: fed.take_lease(sql, "w1", 161.0, 30))
