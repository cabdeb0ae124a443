"""Nodes that federate without a server: batches moved by hand between exchanges, so a
test can build, change and replay them as a hostile peer would."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vigil.crypto.encoding import b64u
from vigil.crypto.sign import sign
from vigil.errors import Conflict
from vigil.features import open_exchange
from vigil.federation import codec, outbox, peers, receiver
from vigil.federation.batches import build_batch
from vigil.federation.descriptor import descriptor
from vigil.federation.peers import Peer
from vigil.model import Tlp
from vigil.node.exchange import Exchange
from vigil.storage import federation as q
from vigil.testing import TestNode, make_node


@dataclass
class Node:
    name: str
    node: TestNode
    ex: Exchange
    peers: dict[str, Peer] = field(default_factory=dict)

    def id(self, member: str) -> str:
        return self.node.members[member].id

    def close(self) -> None:
        self.ex.store.close()


def make(root: Path, name: str, members: dict[str, bool], store: str | None = None) -> Node:
    node = make_node(root / name, members, store=store, hybrid=False)
    settings = node.settings.with_overrides(fed_name=name, correlation_processes=0,
                                            public_url=f"http://{name}.invalid:8470")
    node.settings = settings
    return Node(name, node, open_exchange(settings))


def peer(a: Node, b: Node) -> None:
    """Mutual peering from each other's signed descriptors."""
    for x, y in ((a, b), (b, a)):
        signed = descriptor(y.ex, y.node.settings)
        x.peers[y.name] = peers.add(x.ex, "http://" + y.name + ".invalid",
                                    signed["descriptor"]["pin"], signed=signed)


@contextmanager
def network(root: Path, nodes: Mapping[str, Mapping[str, bool]]) -> Iterator[list[Node]]:
    """A node per key of ``nodes`` with those members (``make``), each peered with every
    other and having taken every other's first batch (its members announced
    everywhere), in the order given; their stores closed afterwards."""
    made: list[Node] = []
    try:
        for name, members in nodes.items():
            made.append(make(root, name, dict(members)))
        for i, x in enumerate(made):
            for y in made[i + 1:]:
                peer(x, y)
        for x in made:
            for y in made:
                if x is not y:
                    deliver(x, y)
        yield made
    finally:
        for n in made:
            n.close()


def sync(src: Node, dst: Node) -> None:
    """Queue the log scan (members, channels, receipts) for dst, as the service does."""
    src.ex.store.write(lambda sql: outbox.sync(src.ex, sql, dst.ex.node_id))


def batch(src: Node, dst: Node, after: int | None = None) -> dict[str, Any]:
    """The next signed batch from src to dst (after what dst acked, or ``after``)."""
    acked = src.ex.store.read(lambda sql: q.link(sql, dst.ex.node_id))[1]
    return build_batch(src.ex, dst.ex.node_id, acked if after is None else after)


def deliver(src: Node, dst: Node, data: dict[str, Any] | None = None) -> receiver.Applied:
    """Move one batch src -> dst and record dst's ack at src."""
    sync(src, dst)
    try:
        got = receiver.receive(dst.ex, dst.peers[src.name], data or batch(src, dst))
    except Conflict as e:  # the sender's acked lags the cursor: move to it, as it does
        if data is not None or e.code not in ("fed.gap", "fed.replay"):
            raise
        at = int(e.detail["cursor"])
        src.ex.store.write(lambda sql: q.set_acked(sql, dst.ex.node_id, at,
                                                   "2026-01-01T00:00:00.000Z"))
        got = receiver.receive(dst.ex, dst.peers[src.name], batch(src, dst))
    src.ex.store.write(lambda sql: q.set_acked(sql, dst.ex.node_id, int(got.ack["ack"]["cursor"]),
                                               "2026-01-01T00:00:00.000Z"))
    return got


def resign(n: Node, data: dict[str, Any]) -> dict[str, Any]:
    """A batch signed again by its (hostile) origin after a change: each item's digest
    made again from its body, the head signed with the origin's node key."""
    out = copy.deepcopy(data)
    head = out["batch"]
    for it, body in zip(head["items"], out["bodies"], strict=True):
        it["digest"] = codec.body_digest(body)
    out["signature"] = b64u(sign(codec.TAG_BATCH, head, n.ex.node_key))
    return out


def publish(src: Node, member: str, to: list[str], tlp: Tlp = Tlp.AMBER,
            body: bytes | None = None) -> str:
    from vigil.testing.stix import canary_bundle as bundle_with

    mid = src.id(member)
    req = src.ex.make_request(mid, tlp=tlp, to=to)
    from vigil.model import Actor

    pub = src.ex.publish_bundle(Actor(mid), body or bundle_with("fed"), req)
    return pub.envelope.id


def quarantined(n: Node) -> list[dict[str, Any]]:
    return n.ex.store.read(lambda sql: q.quarantined(sql))


def cursor(n: Node, origin: Node) -> int:
    return n.ex.store.read(lambda sql: q.cursor(sql, origin.ex.node_id))[0]


def inbox_ids(n: Node, member: str) -> list[str]:
    rows, _, _ = n.ex.inbox_page(n.id(member), 0, 100)
    return [e.share_id for e, _, _ in rows]
