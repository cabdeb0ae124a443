"""The intelligence routes (``vigil.web.intel``) over a real app: the vocabulary a client
offers its users, a consent request answered by the node for the originator (and a
malformed answer refused), uses declared and listed, and the matching bodies checked with
stable codes."""

from __future__ import annotations

from tests.intel.conftest import IntelApi, share
from tests.intel.conftest import iapi as iapi  # the fixture

from vigil.intel import evaluation, legal
from vigil.model import THEMES


def test_the_vocabulary(iapi: IntelApi) -> None:
    r = iapi.client.get("/api/v1/vocabulary", headers=iapi.h("delta"))
    assert r.status_code == 200
    v = r.json()
    assert set(THEMES) <= set(v["themes"]) and "terrorism/financing" in v["themes"]
    assert v["evaluation"] == {"source": evaluation.SOURCE, "information": evaluation.INFORMATION}
    assert v["instruments"] == legal.INSTRUMENTS and v["purposes"] == legal.PURPOSES
    assert "court" in v["uses"]
    assert iapi.client.get("/api/v1/vocabulary").status_code == 401


def test_consent_and_uses_over_the_routes(iapi: IntelApi) -> None:
    sid = share(iapi)
    r = iapi.client.post(
        f"/api/v1/shares/{sid}/consent",
        json={"use": "court", "reason": "case 9"},
        headers=iapi.h("bravo"),
    )
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert iapi.client.get(f"/api/v1/consent/{rid}", headers=iapi.h("bravo")).json()["id"] == rid
    listed = iapi.client.get(
        "/api/v1/consent", params={"role": "asker"}, headers=iapi.h("bravo")
    ).json()["requests"]
    assert [x["id"] for x in listed] == [rid]
    bad = iapi.client.post(
        f"/api/v1/consent/{rid}/answer", json={"grant": "yes"}, headers=iapi.h("alpha")
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "consent.malformed")
    assert bad.json()["error"]["pointer"] == "/grant"
    body = iapi.client.post(
        f"/api/v1/consent/{rid}/answer",
        content=b"[1]",
        headers={**iapi.h("alpha"), "Content-Type": "application/json"},
    )
    assert (body.status_code, body.json()["error"]["code"]) == (400, "input.invalid")
    ok = iapi.client.post(
        f"/api/v1/consent/{rid}/answer", json={"grant": True}, headers=iapi.h("alpha")
    )
    assert ok.status_code == 200 and ok.json()["state"] == "granted"
    use = iapi.client.post(
        f"/api/v1/shares/{sid}/uses",
        json={"use": "court", "purpose": "trial of case 9"},
        headers=iapi.h("bravo"),
    )
    assert use.status_code == 200, use.text
    uses = iapi.client.get(f"/api/v1/shares/{sid}/uses", headers=iapi.h("alpha")).json()
    assert [(u["use"], u["purpose"]) for u in uses["uses"]] == [("court", "trial of case 9")]


def test_matching_bodies(iapi: IntelApi) -> None:
    h = iapi.h("alpha")
    for method, path, body in (
        ("PUT", "/api/v1/match/index", {"outputs": "x"}),
        ("POST", "/api/v1/match/queries/q1/lookup", {"outputs": []}),
    ):
        r = iapi.client.request(method, path, json=body, headers=h)
        assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["pointer"]) == (
            400,
            "match.malformed",
            "/outputs",
        )
    assert iapi.client.put("/api/v1/match/index", json={"outputs": []}, headers=h).json() == {
        "outputs": 0
    }
    pending = iapi.client.get("/api/v1/match/pending", headers=h)
    assert pending.status_code == 200 and pending.json() == {"queries": []}
