"""A home node whose key directory log is witnessed by its peers, for the directory tests."""

from __future__ import annotations

from typing import Any

from tests.federation.trust.conftest import Node

from vigil.crypto.keys import enc_public_raw, generate_enc_key, generate_sign_key, sign_public_raw
from vigil.directory.entries import next_entry, sign_entry
from vigil.directory.log import DirectoryLog
from vigil.directory.monitor import OwnerMonitor
from vigil.protocol.witnessing import quorum
from vigil.witness.collector import Collector

MEMBER = "identity--6f1c0a52-3e0b-4c39-9a57-0d6bb1d3f7a1"


class Home:
    """Node ``home`` with its directory log witnessed by ``peers``."""

    def __init__(self, home: Node, peers: list[Node]) -> None:
        self.node, self.peers = home, peers
        self.dir = DirectoryLog(home.store, home.id, home.key)
        for p in peers:
            p.known[self.dir.origin] = (self.dir.key_name, self.dir.public_raw)
        self.collector = Collector(home.store, [self.dir])
        self.k = quorum(len(peers) + 1)
        self.witnesses = {p.witness.name: p.witness.public_raw for p in peers}

    def witness(self) -> None:
        self.collector.round([p.peer() for p in self.peers])


def register(home: Home, monitor: OwnerMonitor | None = None) -> tuple[Any, Any, Any]:
    sk, ek, rk = generate_sign_key(False), generate_enc_key(False), generate_sign_key(False)
    entry = next_entry(None, "register", MEMBER, home.node.id, sign_key=sk,
                       enc_key=enc_public_raw(ek), recovery_key=sign_public_raw(rk))
    if monitor:
        monitor.signed(entry)
    home.dir.append(sign_entry(entry, sk, home.node.key))
    return sk, ek, rk
