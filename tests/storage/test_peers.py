"""The pinned peers that ``storage/peers.py`` holds, on SQLite and PostgreSQL."""

from __future__ import annotations

from vigil.storage import Store, peers
from vigil.storage.base import Sql

AT = "2026-11-29T08:00:00.000Z"


def put(sql: Sql, node: str, name: str, pin: str = "pin") -> None:
    peers.put_peer(sql, node, name, f"https://{name}/fed/v1", b"k" * 32, pin, b"h" * 32,
                   None, f"{name}.example/log", "{}", AT)


def test_a_peer_is_stored_again_whole_and_removed(store: Store) -> None:
    store.write(lambda sql: put(sql, "node-1", "berlin"))
    store.write(lambda sql: put(sql, "node-1", "berlin", pin="pin-2"))  # stored again
    store.write(lambda sql: put(sql, "node-2", "athens"))
    rows = peers.peer_rows(store)
    assert [(r[0], r[1], r[4]) for r in rows] == [("node-2", "athens", "pin"),
                                                  ("node-1", "berlin", "pin-2")]
    assert bytes(rows[0][3]) == b"k" * 32 and rows[0][6] is None
    store.write(lambda sql: peers.remove_peer(sql, "node-1"))
    assert [r[0] for r in peers.peer_rows(store)] == ["node-2"]
    assert store.read(lambda sql: peers.peer_row(sql, "node-1")) is None
    assert store.read(lambda sql: peers.peer_row(sql, "node-2"))[1] == "athens"
    # a removed peer's name still names its node: no other node takes it
    assert store.read(lambda sql: peers.node_named(sql, "berlin")) == "node-1"
    assert store.read(lambda sql: peers.node_named(sql, "cairo")) is None


def test_the_store_commits_to_disk_before_it_answers(store: Store) -> None:
    assert store.write(peers.synchronous) == "full"
