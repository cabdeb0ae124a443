"""The TAXII collections a member sees (``vigil.taxii.collections``): an inbox, one
collection per channel it is in, and the publish collections per TLP; ids stable for a
node and the same for every member, and every alias unique even when two channels share
a name."""

from __future__ import annotations

import uuid

from vigil.model import Channel, ChannelKind, Tlp
from vigil.taxii.collections import collection_id, node_collections, tlp_word
from vigil.taxii.media import STIX, TAXII


def channel(name: str, owner: str = "identity--a") -> Channel:
    return Channel(
        f"channel--{uuid.uuid4()}", name, ChannelKind.GROUP, owner, frozenset({owner}), "t"
    )


def test_a_member_s_collections() -> None:
    ops, intel = channel("ops"), channel("intel")
    got = node_collections("node-1", [ops, intel], sealed_note=" (sealed shares too)")
    aliases = [c.alias for c in got]
    assert aliases[:3] == ["inbox", "channel-ops", "channel-intel"]
    assert aliases[3:7] == [
        "publish-community-clear",
        "publish-community-green",
        "publish-community-amber",
        "publish-community-amber-strict",
    ]
    assert "publish-channel-intel-amber-strict" in aliases and len(got) == 3 + 4 + 2 * 4
    by = {c.alias: c for c in got}
    inbox = by["inbox"]
    assert (inbox.can_read, inbox.can_write, inbox.channel) == (True, False, None)
    assert inbox.description.endswith("(sealed shares too)")
    assert by["channel-ops"].channel == ops.id and not by["channel-ops"].can_write
    pub = by["publish-channel-ops-green"]
    assert (pub.can_write, pub.tlp, pub.to) == (True, Tlp.GREEN, (ops.id,))
    assert "publish-community-red" not in by  # TLP:RED is not published to a community
    assert by["publish-community-amber-strict"].tlp is Tlp.AMBER_STRICT
    assert by["publish-community-amber-strict"].to == ()
    assert inbox.to_json()["media_types"] == [STIX, TAXII]
    assert set(inbox.to_json()) == {
        "id",
        "title",
        "description",
        "alias",
        "can_read",
        "can_write",
        "media_types",
    }


def test_ids_are_stable_and_the_same_for_every_member() -> None:
    ops = channel("ops")
    first = [c.id for c in node_collections("node-1", [ops])]
    again = [c.id for c in node_collections("node-1", [channel("other"), ops])]
    assert set(first) <= set(again) and len(set(again)) == len(again)
    other_node = [c.id for c in node_collections("node-2", [ops])]
    assert not set(first) & set(other_node)
    assert first[0] == collection_id("node-1", "inbox") == str(uuid.UUID(first[0]))
    assert tlp_word(Tlp.AMBER_STRICT) == "amber-strict"


def test_two_channels_of_one_name_are_told_apart_by_id() -> None:
    a, b = channel("ops", "identity--a"), channel("ops", "identity--b")
    aliases = [c.alias for c in node_collections("node-1", [a, b])]
    assert len(set(aliases)) == len(aliases)
    assert f"channel-{a.id}" in aliases and f"channel-{b.id}" in aliases
    assert "channel-ops" not in aliases
