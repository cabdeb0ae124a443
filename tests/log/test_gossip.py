"""Gossip: checkpoints members hand back, and the forks found among them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.crypto.encoding import b64u
from vigil.errors import CryptoError
from vigil.log.gossip import Gossip
from vigil.log.tree import StoredLog
from vigil.storage import open_store
from vigil.storage.base import Sql, Store

NODE = f"node--{uuid.uuid4()}"
KEY = Ed25519PrivateKey.generate()


def grow(log: StoredLog, n: int, tag: str) -> None:
    for i in range(n):
        def add(sql: Sql, i: int = i) -> None:
            log.append(sql, {"v": 1, "kind": "test", "n": f"{tag}{i}"})
        log.store.write(add)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[Store]]:
    made: list[Store] = []

    def make(name: str) -> Store:
        s = open_store(f"sqlite:///{tmp_path / name}")
        made.append(s)
        return s
    yield [make("honest.db"), make("other.db")]
    for s in made:
        s.close()


def test_an_honest_checkpoint_is_kept_and_shows_no_fork(stores: list[Store]) -> None:
    log = StoredLog(stores[0], NODE, KEY)
    grow(log, 3, "a")
    _, note = log.checkpoint()
    got = Gossip(log).receive(note, "alpha")
    assert got == {"accepted": True, "size": 3, "root": b64u(log.root(3)), "forks": []}
    report = Gossip(log).report()
    assert report["forks"] == [] and [c["size"] for c in report["checkpoints"]] == [3]


def test_a_second_history_signed_by_the_node_is_a_fork(stores: list[Store]) -> None:
    log, twin = StoredLog(stores[0], NODE, KEY), StoredLog(stores[1], NODE, KEY)
    grow(log, 3, "a")
    grow(twin, 3, "b")  # the same node key, another history shown to someone else
    _, other = twin.checkpoint()
    got = Gossip(log).receive(other, "bravo")
    assert got["size"] == 3 and len(got["forks"]) == 1  # against the node's own tree
    fork = got["forks"][0]
    assert (fork["kind"], fork["size"]) == ("fork", 3)
    assert set(fork["checkpoints"]) == {log.checkpoint()[1], other}


def test_a_checkpoint_not_signed_by_the_node_is_refused(stores: list[Store]) -> None:
    log = StoredLog(stores[0], NODE, KEY)
    stranger = StoredLog(stores[1], NODE, Ed25519PrivateKey.generate())
    grow(stranger, 2, "s")
    _, note = stranger.checkpoint()
    with pytest.raises(CryptoError):
        Gossip(log).receive(note, "alpha")
    assert Gossip(log).report()["checkpoints"] == []
