"""Publishing through the SDK: the preview of who would receive a share, a share sealed
here to exactly those recipients, and the preview checks that refuse a node's answer
changing the marking, adding a recipient or asking for plain where this client seals."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from tests.client.conftest import Local

from vigil.errors import CryptoError
from vigil.model import Form
from vigil.testing import stix


def test_preview_and_a_sealed_publish(local: Local) -> None:
    with local.sdk("delta") as delta:
        pv = delta.preview(tlp="amber", to=["group1"])
        assert pv["allow"] and pv["form"] == "sealed"
        assert sorted(r["name"] for r in pv["recipients"]) == ["alpha", "bravo"]
        body = stix.bundle(stix.malware("sealed here"))
        out = delta.publish(body, tlp="amber", to=["group1"])
        assert out["form"] == "sealed" and out["provenance"] == "originator"
        assert set(out["recipients"]) == {r["id"] for r in pv["recipients"]}
        env, _ = delta.envelope(out["id"])
        assert env.form is Form.SEALED and b"sealed here" not in env.payload
    with local.sdk("bravo") as bravo:
        assert bravo.get(out["id"]).bundle == body


def test_the_preview_is_checked(local: Local) -> None:
    with local.sdk("delta") as delta:
        named = delta.preview(tlp="amber", to=["member:bravo"])
        ask: dict[str, Any] = {"tlp": "amber", "to": ["member:bravo"], "purpose": None,
                               "no_onward": False, "codes": []}
        assert delta.check_preview(named, **ask) is Form.SEALED

        def refused(pv: dict[str, Any], **over: Any) -> str:
            with pytest.raises(CryptoError) as caught:
                delta.check_preview(pv, **{**ask, **over})
            return caught.value.code

        wider = copy.deepcopy(named)
        wider["audience"]["tlp"] = "green"
        assert refused(wider) == "client.preview_mismatch"
        assert refused(named, codes=["no-court"]) == "client.preview_mismatch"
        more = copy.deepcopy(named)
        charlie = delta.member("charlie")
        more["recipients"].append({"id": charlie["id"], "name": "charlie"})
        assert refused(more) == "client.preview_mismatch"
        plain = copy.deepcopy(named)
        plain["form"] = "plain"
        assert refused(plain) == "client.form_downgrade"
