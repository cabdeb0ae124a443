"""The node's log as the SDK checks it: the latest checkpoint accepted and kept in the
client's state, and a watch of the entries about the member, each proven in the
checkpoint, resumed where the last watch stopped (a rollback and altered entries
refused: tests/client/test_hostile_node.py)."""

from __future__ import annotations

import pytest
from tests.client.conftest import Local

from vigil.errors import InputError
from vigil.testing import stix


def test_checkpoints_are_kept_and_extended(local: Local) -> None:
    state = local.tmp / "bravo.json"
    with local.sdk("bravo") as c:
        first = c.checkpoint()
        assert first.size > 0 and c.checkpoint().size == first.size
    kept = state.read_text()
    with local.sdk("alpha", keyring=False) as alpha:
        alpha.publish(stix.bundle(stix.malware("grow")), tlp="amber", to=["a-b"])
    with local.sdk("bravo") as c:  # a new client, from the state the last one kept
        assert c.checkpoint().size == first.size + 1
    assert state.read_text() != kept  # the larger checkpoint is what it keeps now


def test_the_watch_of_entries_about_the_member(local: Local) -> None:
    with local.sdk("delta") as delta:
        first = delta.watch_log()
        assert [(e.kind, e.entry["event"], e.foreign) for e in first.events] == [
            ("member", "add", False)]
        assert delta.watch_log().events == []  # resumed where the last one stopped
        with local.sdk("bravo") as bravo:
            sid = bravo.publish(stix.bundle(stix.malware("w")), tlp="amber",
                                to=["member:delta"])["id"]
            bravo.recall(sid)
        got = delta.watch_log()
        assert [(e.kind, e.entry["share"]) for e in got.events] == [("recall", sid)]
        assert got.foreign == [] and got.next >= first.next
        again = delta.watch_log(after=0)
        assert [e.kind for e in again.events] == ["member", "recall"]
    with local.sdk("delta", keyring=False) as plain, pytest.raises(InputError) as caught:
        plain.watch_log()
    assert caught.value.code == "keyring.required"
