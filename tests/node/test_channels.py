"""Channels: their sizes and members checked, names unique among those a member sees,
invisible ones not found, joins and leaves logged."""

from __future__ import annotations

import pytest

from vigil.errors import Conflict, InputError, NotFound, PolicyDenied
from vigil.model import ChannelKind
from vigil.node.exchange import Exchange
from vigil.testing import TestNode


def test_a_channel_is_seen_by_its_members_only(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    m = {n: t.id for n, t in node.members.items()}
    ab = ex.channel(m["alpha"], "a-b")
    assert ab.members == frozenset({m["alpha"], m["bravo"]}) and ab.owner == m["alpha"]
    assert ex.channel(m["bravo"], ab.id) == ab
    for ref in ("a-b", ab.id, "no-such"):
        with pytest.raises(NotFound) as e:
            ex.channel(m["charlie"], ref)
        assert e.value.code == "channel.not_found"
    assert {c.name for c in ex.channels(m["charlie"])} == {"everyone"}
    assert {c.name for c in ex.channels(m["delta"])} == {"group1", "everyone"}


def test_channel_shapes_and_names_are_checked(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    m = {n: t.id for n, t in node.members.items()}
    cases = [("pair", ChannelKind.BILATERAL, [m["bravo"], m["charlie"]],
              InputError, "channel.bilateral_size"),
             ("all", ChannelKind.COMMUNITY, [m["bravo"]], InputError,
              "channel.community_members"),
             ("a-b", ChannelKind.GROUP, [m["charlie"]], Conflict, "channel.exists"),
             ("Bad", ChannelKind.GROUP, [], InputError, "input.channel_name")]
    for name, kind, members, exc, code in cases:
        with pytest.raises(exc) as e:
            ex.create_channel(m["alpha"], name, kind, members)
        assert e.value.code == code, name
    # the same name is free for a member that does not see alpha's a-b
    own = ex.create_channel(m["charlie"], "a-b", ChannelKind.GROUP, [m["delta"]])
    assert own.members == frozenset({m["charlie"], m["delta"]})
    with pytest.raises(Conflict) as amb:
        ex.create_channel(m["delta"], "a-b", ChannelKind.GROUP, [])
    assert amb.value.code == "channel.exists"


def test_joins_and_leaves_are_kept_as_events(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    m = {n: t.id for n, t in node.members.items()}
    ch = ex.change_channel(m["alpha"], "group1", "charlie", add=True)
    assert m["charlie"] in ch.members
    ch = ex.change_channel(m["alpha"], "group1", "member:delta", add=False)
    assert m["delta"] not in ch.members
    with pytest.raises(InputError) as owner:
        ex.change_channel(m["alpha"], "group1", "alpha", add=False)
    assert owner.value.code == "channel.owner_leaves"
    with pytest.raises(PolicyDenied):
        ex.change_channel(m["bravo"], "group1", "delta", add=True)  # not its owner
    events = [(e["event"], e["member"]) for e in ex.channel_events(m["alpha"], "group1")]
    assert events[-2:] == [("join", m["charlie"]), ("leave", m["delta"])]
    assert ("create", m["alpha"]) in events
