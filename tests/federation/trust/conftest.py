"""Nodes in one process for the trust tests: each a store, a node key, its log, its
witness and its alarms. Peers reach each other's witness by direct calls; the HTTP
tests put the same objects behind real localhost servers."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.log.tree import StoredLog
from vigil.storage import open_store
from vigil.storage.base import Sql, Store
from vigil.witness.alarms import Alarms
from vigil.witness.collector import Collector, WitnessPeer
from vigil.witness.service import Witness


@dataclass
class Node:
    id: str
    store: Store
    key: Ed25519PrivateKey
    log: StoredLog
    alarms: Alarms
    witness: Witness
    known: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def append(self, n: int = 1, tag: str = "x") -> None:
        for i in range(n):
            entry = {"v": 1, "kind": "test", "n": f"{tag}{i}-{uuid.uuid4().hex}"}

            def add(sql: Sql, entry: dict[str, object] = entry) -> None:
                self.log.append(sql, entry)
            self.store.write(add)

    def peer(self) -> WitnessPeer:
        def submit(body: bytes) -> tuple[int, str, bytes]:
            a = self.witness.add_checkpoint(body)
            return a.status, a.content_type, a.body
        return WitnessPeer(self.witness.name, self.witness.public_raw, submit)

    def collector(self) -> Collector:
        return Collector(self.store, [self.log])


def make_trust_node(path: Path, node_id: str | None = None,
                    key: Ed25519PrivateKey | None = None) -> Node:
    node_id = node_id or f"node--{uuid.uuid4()}"
    path.mkdir(parents=True, exist_ok=True)
    store = open_store(f"sqlite:///{path / 'vigil.db'}")
    store.migrate()
    key = key or Ed25519PrivateKey.generate()
    log = StoredLog(store, node_id, key)
    alarms = Alarms(store)
    known: dict[str, tuple[str, bytes]] = {}
    witness = Witness(store, f"vigil.example/witness/{node_id}", Ed25519PrivateKey.generate(),
                      known.get, alarms)
    return Node(node_id, store, key, log, alarms, witness, known)


def introduce(nodes: list[Node]) -> None:
    """Every node knows every other node's log key."""
    for a in nodes:
        for b in nodes:
            if a is not b:
                a.known[b.log.origin] = (b.log.key_name, b.log.public_raw)


@pytest.fixture
def trio(tmp_path: Path) -> Iterator[Callable[..., list[Node]]]:
    made: list[Node] = []

    def build(n: int = 3) -> list[Node]:
        nodes = [make_trust_node(tmp_path / f"n{i}") for i in range(n)]
        introduce(nodes)
        made.extend(nodes)
        return nodes
    yield build
    for node in made:
        node.store.close()
