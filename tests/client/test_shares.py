"""A share as a member reads it through the SDK: verified against its signer's proven
keys and opened here (sealed to this member's own keys) or by the node (a keyring it
holds); sightings reported and counted for the originator, and the ledger."""

from __future__ import annotations

from tests.client.conftest import Local

from vigil.testing import stix


def test_get_sight_and_ledger(local: Local) -> None:
    body = stix.bundle(stix.indicator("shares.example", name="shares"))
    with local.sdk("delta") as delta, local.sdk("bravo", keyring=False) as bravo:
        sid = delta.publish(body, tlp="amber", to=["group1"])["id"]
        own = delta.get(sid)
        assert own.id == sid and own.verified and own.opened_by == "client"
        assert own.signer.startswith("signed by delta (member:delta, ")
        assert own.log_index is not None and own.bundle == body
        seen = bravo.get(sid)  # bravo's keyring is held by the node: it opens there
        assert seen.verified and seen.opened_by == "node" and seen.bundle == body
        [ind] = [o["id"] for o in (seen.stix() or {})["objects"] if o["type"] == "indicator"]
        got = bravo.sight(sid, ind, count=3)
        assert (got["type"], got["sighting_of_ref"], got["count"]) == ("sighting", ind, 3)
        assert got["x_vigil_share"] == sid and got["x_vigil_verdict"] == "sighted"
        counts = delta.sightings(sid)
        assert counts["share_id"] == sid
        assert counts["counts"] == {ind: {"sighted": {"reports": 1, "count": 3}}}
        rows = {r["name"]: r for r in bravo.ledger()["members"]}
        assert rows["bravo"]["opened"] == 1 and rows["delta"]["shares"] == 1
