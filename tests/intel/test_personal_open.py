"""A share holding personal data opens only with a purpose, recorded in its
originator's receipts: through the node (REST content) and in a member's own client."""

from __future__ import annotations

import pytest
from tests.intel.conftest import LEGAL, IntelApi, person
from tests.web.helpers import bundle_text

from vigil.errors import VigilError


def test_purpose_required_to_open_and_recorded(iapi: IntelApi) -> None:
    r = iapi.client.post("/api/v1/shares", params={
        "tlp": "amber", "to": "group1", "theme": "organised-crime", "evaluation": "C3",
        "personal_data": "true", **LEGAL}, content=bundle_text(person()).encode(),
        headers=iapi.h("alpha"))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = iapi.client.get(f"/api/v1/shares/{sid}/content", headers=iapi.h("bravo"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "share.purpose_required"
    r = iapi.client.get(f"/api/v1/shares/{sid}/content", params={"purpose": "case 7 check"},
                        headers=iapi.h("bravo"))
    assert r.status_code == 200 and b"A. Suspect" in r.content
    # the originator opens its own share without one
    assert iapi.client.get(f"/api/v1/shares/{sid}/content",
                           headers=iapi.h("alpha")).status_code == 200
    with iapi.sdk("delta") as c:
        with pytest.raises(VigilError) as e:
            c.get(sid)
        assert e.value.code == "share.purpose_required"
        got = c.get(sid, purpose="cross-check of a wallet")
        assert got.bundle is not None and b"A. Suspect" in got.bundle
    rec = iapi.client.get(f"/api/v1/shares/{sid}/receipts", headers=iapi.h("alpha")).json()
    m = iapi.node.members
    assert [(u["member"], u["use"], u["purpose"]) for u in rec["uses"]] == [
        (m["bravo"].id, "open", "case 7 check"), (m["delta"].id, "open",
                                                  "cross-check of a wallet")]
    # nobody but the originator sees them
    assert iapi.client.get(f"/api/v1/shares/{sid}/uses",
                           headers=iapi.h("bravo")).status_code == 404
