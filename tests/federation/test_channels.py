"""Channels homed at one node, mirrored by the nodes of their members; retention on every
node."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.federation.pairs import Node, deliver, inbox_ids, network, publish

from vigil import clock
from vigil.model import Actor, ChannelKind, Tlp
from vigil.node import accountability
from vigil.testing.stix import canary_bundle as bundle_with


@pytest.fixture
def abc(tmp_path: Path) -> Iterator[tuple[Node, Node, Node]]:
    with network(tmp_path, {"athens": {"alpha": True}, "berlin": {"bravo": True},
                            "cairo": {"charlie": True}}) as (a, b, c):
        yield a, b, c


def remote_id(n: Node, address: str) -> str:
    return next(m.id for m in n.ex.directory().members.values() if m.name == address)


def test_a_removed_member_gets_no_wrap_and_its_node_no_row(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, c = abc
    alpha = a.id("alpha")
    ch = a.ex.create_channel(alpha, "trio", ChannelKind.GROUP,
                             [remote_id(a, "bravo@berlin"), remote_id(a, "charlie@cairo")])
    for n in (b, c):
        deliver(a, n)
        assert ch.id in n.ex.directory().channels
    first = publish(b, "bravo", ["trio"])  # from berlin, to the channel as berlin mirrors it
    deliver(b, a)
    deliver(b, c)
    assert first in inbox_ids(a, "alpha") and first in inbox_ids(c, "charlie")
    a.ex.change_channel(alpha, ch.id, "charlie@cairo", add=False)
    for n in (b, c):
        deliver(a, n)
    assert c.id("charlie") not in b.ex.directory().channels[ch.id].members
    second = publish(b, "bravo", ["trio"])
    env, _ = b.ex.store.get_share(second) or (None, None)
    assert env is not None and c.id("charlie") not in {w.member for w in env.wraps}
    deliver(b, a)
    deliver(b, c)
    assert second in inbox_ids(a, "alpha")
    assert c.ex.store.get_share(second) is None


def test_every_node_purges_at_expiry(abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    alpha = a.id("alpha")
    req = a.ex.make_request(alpha, tlp=Tlp.AMBER, to=["member:bravo@berlin"], expires="1h")
    sid = a.ex.publish_bundle(Actor(alpha), bundle_with("soon"), req).envelope.id
    deliver(a, b)
    assert sid in inbox_ids(b, "bravo")
    later = clock.fmt(datetime.now(UTC) + timedelta(hours=2))
    assert accountability.purge_expired(b.ex, now=later) == 1
    _, state = b.ex.store.get_share(sid) or (None, None)
    assert state is not None and state.purged
