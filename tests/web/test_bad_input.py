"""Every class of bad input gets its stable code and JSON pointer, and stores nothing."""

from __future__ import annotations

import pytest
from tests.web.conftest import Api
from tests.web.helpers import GOOD, bundle_text, indicator

CASES = [
    ("duplicate key", GOOD.replace('"pattern_type": "stix"',
                                   '"pattern_type": "stix", "pattern_type": "stix"'),
     "input.duplicate_key", "/objects/0/pattern_type"),
    ("NaN", bundle_text(indicator(confidence=1)).replace('"confidence": 1', '"confidence": NaN'),
     "input.non_finite", "/objects/0/confidence"),
    ("Infinity", bundle_text(indicator(confidence=1)).replace('"confidence": 1',
                                                              '"confidence": -Infinity'),
     "input.non_finite", "/objects/0/confidence"),
    ("integer beyond 2^53", bundle_text(indicator(confidence=1)).replace(
        '"confidence": 1', '"confidence": 9007199254740993'),
     "input.integer_range", "/objects/0/confidence"),
    ("too deep", bundle_text(indicator(x_deep=0)).replace('"x_deep": 0',
                                                          '"x_deep": ' + "[" * 70 + "]" * 70),
     "input.too_deep", None),
    ("not JSON", '{"type": "bundle", "objects": [', "input.malformed", None),
    ("too large", bundle_text(indicator(description="x" * 300_000)), "input.too_large", ""),
    ("pattern too large", bundle_text(indicator(
        pattern=" OR ".join(["[url:value = '" + "a" * 30_000 + "']"] * 3))),
     "stix.pattern_too_large",
     "/objects/0/pattern"),
    ("pattern value too large", bundle_text(indicator(
        pattern="[domain-name:value = 'x.example'] OR [url:value = '" + "a" * 33_000 + "']")),
     "stix.pattern_too_large", "/objects/0/pattern"),
    ("bad pattern", bundle_text(indicator(pattern="[ipv4-addr:value = ")), None,
     "/objects/0/pattern"),
    ("missing property", bundle_text({k: v for k, v in indicator().items() if k != "valid_from"}),
     None, "/objects/0"),
    ("bad timestamp", bundle_text(indicator(created="2022-101-27T00:00:00Z")), None,
     "/objects/0/created"),
    ("bad id", bundle_text(indicator(id="indicator--not-a-uuid")), None, "/objects/0/id"),
]


@pytest.mark.parametrize(("name", "body", "code", "pointer"), CASES, ids=[c[0] for c in CASES])
def test_bad_bundle_rejected_with_code_and_pointer(
        api: Api, name: str, body: str, code: str | None, pointer: str | None) -> None:
    r = api.client.post("/api/v1/shares", params={"tlp": "amber", "to": "a-b"},
                        content=body.encode(), headers=api.h("alpha"))
    assert 400 <= r.status_code < 500, r.text
    err = r.json()["error"]
    if code is not None:
        assert err["code"] == code
    else:
        assert err["code"].startswith("stix."), err
    if pointer is not None:
        assert err.get("pointer", "").startswith(pointer), err
    assert api.exchange.store.share_count() == 0


@pytest.mark.parametrize(("params", "code"), [
    ({"tlp": "purple", "to": "a-b"}, "input.tlp"),
    ({"tlp": "amber", "to": "a-b", "theme": "weather"}, "input.theme"),
    ({"tlp": "amber", "to": "a-b", "region": "!!"}, "input.region"),
    ({"tlp": "amber", "to": "a-b", "expires": "tomorrow-ish"}, "input.expires"),
    ({"tlp": "amber", "to": "a-b", "expires": "2001-01-01T00:00:00Z"}, "policy.expired"),
    ({"tlp": "red", "to": "a-b"}, "policy.red_needs_recipients"),
    ({"tlp": "amber", "to": "member:nobody"}, "input.unknown_recipient"),
    ({"tlp": "amber", "to": ["a-b", "group1"]}, "input.two_channels"),
])
def test_bad_audience_rejected(api: Api, params: dict[str, object], code: str) -> None:
    r = api.client.post("/api/v1/shares", params=params, content=GOOD.encode(),
                        headers=api.h("alpha"))
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["code"] == code
    assert api.exchange.store.share_count() == 0


def test_channel_of_others_looks_missing(api: Api) -> None:
    # charlie is not in a-b: publishing to it is refused exactly like an unknown channel
    r1 = api.client.post("/api/v1/shares", params={"tlp": "amber", "to": "a-b"},
                         content=GOOD.encode(), headers=api.h("charlie"))
    r2 = api.client.post("/api/v1/shares", params={"tlp": "amber", "to": "no-such"},
                         content=GOOD.encode(), headers=api.h("charlie"))
    assert r1.status_code == r2.status_code == 403
    assert r1.json()["error"]["code"] == r2.json()["error"]["code"] == "policy.not_in_channel"
    assert api.client.get("/api/v1/channels/a-b", headers=api.h("charlie")).status_code == 404
    assert api.client.get("/api/v1/channels/no-such",
                          headers=api.h("charlie")).json() == \
        api.client.get("/api/v1/channels/a-b", headers=api.h("charlie")).json() | {
            "error": {"code": "channel.not_found", "message": "no channel 'no-such'"}}


def test_identity_comes_from_the_token(api: Api) -> None:
    r = api.client.post("/api/v1/shares", params={"tlp": "amber", "to": "a-b",
                                                  "originator": api.node.members["bravo"].id},
                        content=GOOD.encode(), headers=api.h("alpha"))
    assert r.status_code == 201
    env = api.client.get(f"/api/v1/shares/{r.json()['id']}", headers=api.h("alpha")).json()
    assert env["header"]["originator"] == api.node.members["alpha"].id
    assert api.client.post("/api/v1/shares", params={"tlp": "amber"}, content=GOOD.encode()
                           ).status_code == 401
    bad = api.client.post("/api/v1/shares", params={"tlp": "amber"}, content=GOOD.encode(),
                          headers={"Authorization": "Bearer vgl_wrong"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "auth.bad_token"


def test_query_the_framework_refuses_gets_vigils_error_body(api: Api) -> None:
    r = api.client.get("/api/v1/inbox", params={"limit": 0}, headers=api.h("alpha"))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "input.out_of_range" and err["pointer"] == "/limit"
    r = api.client.get("/api/v1/log/inclusion", params={"index": "x", "size": 1},
                       headers=api.h("alpha"))
    assert r.status_code == 400 and r.json()["error"]["pointer"] == "/index"
