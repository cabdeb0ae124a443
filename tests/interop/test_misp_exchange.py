"""MISP events through an exchange: without an audience only a report with the proposed
one; with it, each event published as one share (an event that cannot go reported, the
others still published); the inbox exported as MISP events, sealed shares listed as
skipped."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import four_member_exchange

from vigil.interop.misp_exchange import audience_words, export_events, import_events
from vigil.model import Actor

EVENT = Path(__file__).resolve().parents[1] / "data" / "misp" / "sighting_1.json"


def test_audience_words() -> None:
    assert audience_words(["community"]) == ()
    assert audience_words(["group1", "community", "a-b"]) == ("group1", "a-b")


def test_import_then_export(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    try:
        m = node.members
        alpha = Actor(m["alpha"].id, "test")
        event = json.loads(EVENT.read_text("utf-8"))
        [rep] = import_events(ex, alpha, [event], to=None, tlp=None)
        assert rep["proposal"]["to"] == ["community"] and "share" not in rep
        assert ex.inbox_page(m["bravo"].id, 0, 10)[0] == []
        org_only = json.loads(json.dumps(event))
        org_only["Event"]["distribution"] = "0"
        reps = import_events(ex, alpha, [event, org_only, event], to=["group1"], tlp=None)
        assert reps[0]["error"]["code"] == "misp.tlp_required"  # the event has no tlp: tag
        assert reps[1]["error"]["code"] == "misp.org_only"
        reps = import_events(ex, alpha, [event, org_only, event], to=["group1"], tlp="amber")
        assert "share" in reps[0] and "share" in reps[2] and "share" not in reps[1]
        assert reps[0]["share"]["tlp"] == "amber"
        events, skipped, cursor = export_events(ex, m["bravo"].id, 0, 10)
        assert [e["share_id"] for e in events] == [reps[0]["share"]["id"],
                                                   reps[2]["share"]["id"]]
        want = {a["value"] for a in event["Event"]["Attribute"]}
        got = {a["value"] for a in events[0]["event"]["Event"].get("Attribute", [])}
        assert want & got and skipped == [] and cursor == events[-1]["seq"]
        assert export_events(ex, m["charlie"].id, 0, 10)[0] == []  # not in group1
        events, skipped, _ = export_events(ex, m["delta"].id, 0, 10)  # keys not held
        assert events == [] and [s["code"] for s in skipped] == ["share.sealed"] * 2
    finally:
        ex.store.close()
