"""Recalls cross behind their shares and purge every copy; receipts come back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.federation.pairs import Node, deliver, inbox_ids, network, publish

from vigil.model import ChannelKind, Tlp
from vigil.node import accountability
from vigil.testing.node import scan
from vigil.testing.stix import canary_bundle as bundle_with


@pytest.fixture
def four(tmp_path: Path) -> Iterator[list[Node]]:
    with network(tmp_path, {"athens": {"alpha": True}, "berlin": {"bravo": True},
                            "cairo": {"charlie": True}, "dakar": {"delta": True}}) as nodes:
        yield nodes


def test_recall_purges_on_every_node_and_receipts_return(four: list[Node]) -> None:
    a, *others = four
    canary = f"CANARY-{uuid.uuid4().hex}"
    alpha = a.id("alpha")
    a.ex.create_channel(alpha, "everyone", ChannelKind.COMMUNITY, [])
    sid = publish(a, "alpha", ["everyone"], tlp=Tlp.GREEN, body=bundle_with(canary))
    for n in others:
        deliver(a, n)
    for n, m in zip(others, ("bravo", "charlie", "delta"), strict=True):
        assert sid in inbox_ids(n, m)
        assert scan([n.node.data], canary.encode()), "the plain share is held there"
    accountability.recall(a.ex, alpha, sid)
    for n in others:
        got = deliver(a, n)
        assert got.quarantined == []
    for n, m in zip(others, ("bravo", "charlie", "delta"), strict=True):
        env, state = n.ex.store.get_share(sid) or (None, None)
        assert state is not None and state.recalled and env is not None and env.payload == b""
        page, _, _ = n.ex.inbox_page(n.id(m), 0, 100, notices=True)
        assert [e.share_id for e, _, _ in page] == [sid]  # the recall notice
        # the member's client acknowledges the recall, signed with its key
        kr = n.ex.held[n.id(m)]
        r = accountability.receipt_object(sid, n.id(m), accountability.RECALL_ACK,
                                          kr.sign_key_id)
        accountability.record_receipt(n.ex, n.id(m), r,
                                      accountability.sign_receipt(r, kr.sign_private))
        deliver(n, a)
    for n in four:
        assert scan([n.node.data], canary.encode()) == [], n.name
    view = accountability.receipts_view(a.ex, alpha, sid)
    assert view["not_acknowledged"] == []
    assert {p["name"] for p in view["recipients"] if p["recall_ack"]} == {
        "bravo@berlin", "charlie@cairo", "delta@dakar"}
