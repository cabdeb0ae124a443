"""Signed receipts and recalls from the SDK: a receipt needs the member's keyring and is
seen by the originator; a recall signed here (or by the node, for a member without its
keyring) is told to the recipients, whose clients drop their copies and acknowledge."""

from __future__ import annotations

import pytest
from tests.client.conftest import Local

from vigil.errors import InputError
from vigil.testing import stix


def test_receipts_and_a_recall(local: Local) -> None:
    with local.sdk("delta") as delta, local.sdk("bravo") as bravo:
        sid = delta.publish(stix.bundle(stix.malware("r")), tlp="amber", to=["group1"])["id"]
        with local.sdk("bravo", keyring=False) as plain, pytest.raises(InputError) as caught:
            plain.receipt(sid, "received")
        assert caught.value.code == "keyring.required"
        bravo.receipt(sid, "received")
        bravo.receipt(sid, "received")  # idempotent at the node
        doc = delta.receipts(sid)
        got = {r["name"]: r for r in doc["recipients"]}
        assert got["bravo"]["received"] is not None and got["alpha"]["received"] is None
        assert doc["recall"] is None
        done = delta.recall(sid)  # signed here with delta's keyring
        assert done["new"] is True and set(done["recipients"]) >= {
            local.node.members["bravo"].id}
        assert delta.recall(sid)["new"] is False
        dropped: list[str] = []
        bravo.on_recall.append(dropped.append)
        env, _ = bravo.envelope(sid)
        bravo._recalled(env)
        assert dropped == [sid]
        after = {r["name"]: r for r in delta.receipts(sid)["recipients"]}
        assert after["bravo"]["recall_ack"] is not None and after["alpha"]["recall_ack"] is None
    with local.sdk("alpha", keyring=False) as alpha:  # the node signs for a held keyring
        own = alpha.publish(stix.bundle(stix.malware("a")), tlp="amber", to=["a-b"])["id"]
        assert alpha.recall(own)["new"] is True
