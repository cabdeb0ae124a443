"""Every share a member may read, as the console lists them: its inbox, then what it
sent and may still read, each once; by id, only those the gate lets it read."""

from __future__ import annotations

import pytest
from tests.analysis.helpers import publish

from vigil import testing
from vigil.model import Tlp
from vigil.node.exchange import Exchange
from vigil.testing.stix import ioc_bundle
from vigil.web.console import readable
from vigil.web.console.readable import readable_by_id, readable_shares


def test_inbox_and_sent_each_once(four_members: tuple[testing.TestNode, Exchange],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    n, ex = four_members
    m = {k: v.id for k, v in n.members.items()}
    to_group = publish(ex, m["alpha"], ioc_bundle("198.51.100.7"), tlp=Tlp.AMBER,
                       to=("group1",)).envelope.id
    own = [publish(ex, m["bravo"], ioc_bundle(f"203.0.113.{i}"), tlp=Tlp.AMBER,
                   to=("a-b",)).envelope.id for i in range(3)]
    monkeypatch.setattr(readable, "PAGE", 2)  # several pages
    got = [env.id for env, _ in readable_shares(ex, m["bravo"])]
    charlie = [env.id for env, _ in readable_shares(ex, m["charlie"])]
    assert sorted(got) == sorted([to_group, *own]) and len(got) == len(set(got))
    assert to_group not in charlie and not set(own) & set(charlie)
    assert set(readable_by_id(ex, m["charlie"], [to_group, *own, "share--none"])) == set()
    assert set(readable_by_id(ex, m["delta"], [to_group, own[0]])) == {to_group}
