"""The receipt and recall routes (``vigil.web.accountability``) over a real app: a signed
receipt recorded once (201, then 200 with the first), its body's shape and share checked
with stable codes, the receipts view for the originator only, and a recall signed with the
originator's keyring the node holds when the body is empty, answered 200 when repeated."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Api

from vigil.crypto.encoding import b64u
from vigil.protocol import receipts
from vigil.testing.stix import ioc_bundle


def publish(api: Api) -> str:
    r = api.client.post(
        "/api/v1/shares",
        params={"tlp": "green"},
        content=ioc_bundle("45.1.2.3"),
        headers=api.h("alpha"),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def receipt(api: Api, who: str, sid: str, what: str = "opened") -> dict[str, Any]:
    kr = api.node.members[who].keyring
    obj = receipts.receipt_object(sid, kr.member_id, what, kr.sign_key_id)
    return {"receipt": obj, "signature": b64u(receipts.sign_receipt(obj, kr.sign_private))}


def test_receipts_are_recorded_once_and_shown_to_the_originator(api: Api) -> None:
    sid = publish(api)
    body = receipt(api, "bravo", sid)
    first = api.client.post(f"/api/v1/shares/{sid}/receipts", json=body, headers=api.h("bravo"))
    assert first.status_code == 201, first.text
    again = api.client.post(
        f"/api/v1/shares/{sid}/receipts", json=receipt(api, "bravo", sid), headers=api.h("bravo")
    )
    assert again.status_code == 200
    assert {**again.json(), "new": True} == first.json() and first.json()["new"] is True
    view = api.client.get(f"/api/v1/shares/{sid}/receipts", headers=api.h("alpha"))
    assert view.status_code == 200 and view.json()["uses"] == []
    assert api.node.members["bravo"].id not in view.json()["not_opened"]
    assert (
        api.client.get(f"/api/v1/shares/{sid}/receipts", headers=api.h("bravo")).status_code == 404
    )


def test_a_receipt_body_is_checked_before_anything_is_stored(api: Api) -> None:
    sid, other = publish(api), publish(api)
    good = receipt(api, "bravo", sid)
    cases = [
        ({"receipt": good["receipt"]}, "receipt.malformed", ""),
        ({**good, "extra": 1}, "receipt.malformed", ""),
        ({**good, "signature": b64u(b"short")}, "receipt.malformed", "/signature"),
        ({**good, "signature": "not base64!"}, "receipt.malformed", "/signature"),
    ]
    for body, code, pointer in cases:
        r = api.client.post(f"/api/v1/shares/{sid}/receipts", json=body, headers=api.h("bravo"))
        assert r.status_code == 400, body
        assert (r.json()["error"]["code"], r.json()["error"].get("pointer", "")) == (code, pointer)
    r = api.client.post(f"/api/v1/shares/{other}/receipts", json=good, headers=api.h("bravo"))
    assert r.status_code == 400
    assert (r.json()["error"]["code"], r.json()["error"]["pointer"]) == (
        "receipt.share_mismatch",
        "/receipt/share",
    )
    view = api.client.get(f"/api/v1/shares/{sid}/receipts", headers=api.h("alpha")).json()
    assert api.node.members["bravo"].id in view["not_opened"]  # nothing was stored


def test_a_recall_with_an_empty_body(api: Api) -> None:
    sid = publish(api)
    assert (
        api.client.post(f"/api/v1/shares/{sid}/recall", headers=api.h("bravo")).status_code == 404
    )  # only the originator recalls
    r = api.client.post(f"/api/v1/shares/{sid}/recall", headers=api.h("alpha"))
    assert r.status_code == 201, r.text
    view = api.client.get(f"/api/v1/shares/{sid}/receipts", headers=api.h("alpha")).json()
    # signed with the originator's keyring, which the node holds
    assert view["state"]["recalled"] and view["recall"]["signed_by"] == "originator"
    again = api.client.post(f"/api/v1/shares/{sid}/recall", headers=api.h("alpha"))
    assert again.status_code == 200 and {**again.json(), "new": True} == r.json()
    bad = api.client.post(
        f"/api/v1/shares/{sid}/recall", json={"recall": {}}, headers=api.h("alpha")
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "recall.malformed"
