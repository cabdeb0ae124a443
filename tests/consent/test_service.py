"""Consent grants: a use the handling forbids is refused with policy.grant_required on
every path until the originator signs a grant; the grant and the refusal are logged
and seen only by the two parties."""

from __future__ import annotations

from typing import Any

import pytest
from tests.intel.conftest import IntelApi, share

from vigil.consent import service as consent
from vigil.crypto.encoding import b64u
from vigil.errors import VigilError
from vigil.match import sdk
from vigil.policy.access import Access
from vigil.protocol.consent import answer_object, sign_answer


def use(api: IntelApi, who: str, sid: str, what: str = "court") -> Any:
    return api.client.post(f"/api/v1/shares/{sid}/uses",
                           json={"use": what, "purpose": "trial of case 42"},
                           headers=api.h(who))


def court_paths(api: IntelApi, who: str, sid: str) -> dict[str, str]:
    """The answer of every path a member declares a court use on: REST, SDK, console."""
    out = {}
    r = use(api, who, sid)
    out["rest"] = r.json()["error"]["code"] if r.status_code != 200 else "ok"
    with api.sdk(who) as c:
        try:
            sdk.use(c, sid, "court", "trial of case 42")
            out["sdk"] = "ok"
        except VigilError as e:
            out["sdk"] = e.code
    return out


def test_court_use_without_a_grant_is_refused_on_every_path(iapi: IntelApi) -> None:
    sid = share(iapi)
    assert court_paths(iapi, "bravo", sid) == {"rest": "policy.grant_required",
                                               "sdk": "policy.grant_required"}
    # a member that may not read the share is told nothing of it
    assert use(iapi, "charlie", sid).status_code == 404
    # the originator needs nobody's consent; a share without no-court needs none either
    assert use(iapi, "alpha", sid).status_code == 200
    assert use(iapi, "bravo", share(iapi, code="x-other")).status_code == 200


def test_a_signed_grant_allows_the_use_and_is_logged(iapi: IntelApi) -> None:
    sid = share(iapi)
    r = iapi.client.post(f"/api/v1/shares/{sid}/consent",
                         json={"use": "court", "reason": "trial of case 42"},
                         headers=iapi.h("bravo"))
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["state"] == "pending" and req["originator"] == iapi.node.members["alpha"].id
    assert iapi.client.get(f"/api/v1/consent/{req['id']}",
                           headers=iapi.h("charlie")).status_code == 404
    mine = iapi.client.get("/api/v1/consent", params={"role": "originator"},
                           headers=iapi.h("alpha")).json()["requests"]
    assert [x["id"] for x in mine] == [req["id"]]
    # only the originator answers; the node signs with the keyring it holds for alpha
    assert iapi.client.post(f"/api/v1/consent/{req['id']}/answer", json={"grant": True},
                            headers=iapi.h("bravo")).status_code == 404
    r = iapi.client.post(f"/api/v1/consent/{req['id']}/answer", json={"grant": True},
                         headers=iapi.h("alpha"))
    assert r.status_code == 200 and r.json()["state"] == "granted"
    assert r.json()["answer"]["answer"] == "grant"
    assert court_paths(iapi, "bravo", sid) == {"rest": "ok", "sdk": "ok"}
    # delta, another recipient, holds no grant
    assert court_paths(iapi, "delta", sid)["rest"] == "policy.grant_required"
    again = iapi.client.post(f"/api/v1/consent/{req['id']}/answer", json={"grant": False},
                             headers=iapi.h("alpha"))
    assert again.status_code == 409

    def kinds(who: str) -> list[str]:
        rows = iapi.client.get("/api/v1/log/entries", params={"start": 0, "end": 100},
                               headers=iapi.h(who)).json()["entries"]
        return [e["entry"]["kind"] + "/" + e["entry"].get("event", e["entry"].get("use", ""))
                for e in rows if e.get("entry") and e["entry"]["kind"] in ("consent", "use")]

    assert "consent/request" in kinds("bravo") and "consent/granted" in kinds("alpha")
    assert "use/court" in kinds("alpha")
    assert kinds("charlie") == [] and "consent/granted" not in kinds("delta")


def test_a_refusal_keeps_the_use_refused(iapi: IntelApi) -> None:
    sid = share(iapi)
    with iapi.sdk("delta") as c:
        req = sdk.ask_consent(c, sid, "court", "trial")
    r = iapi.client.post(f"/api/v1/consent/{req['id']}/answer", json={"grant": False},
                         headers=iapi.h("alpha"))
    assert r.json()["state"] == "refused"
    assert court_paths(iapi, "delta", sid)["sdk"] == "policy.grant_required"


def test_a_client_signed_answer_and_a_forged_one(iapi: IntelApi) -> None:
    sid = share(iapi, who="delta", to="group1")
    with iapi.sdk("alpha") as c:
        req = sdk.ask_consent(c, sid, "court", "trial")
    iapi.exchange.held.pop(iapi.node.members["delta"].id, None)
    # the node cannot sign for a member whose keys live in its client
    r = iapi.client.post(f"/api/v1/consent/{req['id']}/answer", json={"grant": True},
                         headers=iapi.h("delta"))
    assert r.status_code == 400
    # a grant signed by another key is refused
    forged_kr = iapi.node.members["bravo"].keyring
    obj = answer_object(req, "grant", iapi.node.members["delta"].keyring.sign_key_id)
    bad = b64u(sign_answer(obj, forged_kr.sign_private))
    r = iapi.client.post(f"/api/v1/consent/{req['id']}/answer",
                         json={"answer": obj, "signature": bad}, headers=iapi.h("delta"))
    assert r.status_code == 422 and r.json()["error"]["code"] == "crypto.bad_signature"
    with iapi.sdk("delta") as c:
        done = sdk.answer_consent(c, req, True)
    assert done["state"] == "granted"
    assert use(iapi, "alpha", sid).status_code == 200


def test_forward_and_retain_grants_in_the_gate(iapi: IntelApi) -> None:
    ex = iapi.exchange
    sid = share(iapi, no_onward="true", expires="2d", code="x-none")
    bravo = iapi.node.members["bravo"].id
    gate = Access(ex, bravo)
    got = gate.fetch(sid)
    assert got is not None
    assert gate.forward(got[1]).reason == "policy.no_onward"
    assert gate.use(got[1], "forward").reason == "policy.grant_required"
    later = "2099-01-01T00:00:00.000Z"
    late = Access(ex, bravo, now=later)
    assert late.read(late.fetch(sid)[1]).reason == "policy.expired"  # type: ignore[index]
    for what in ("forward", "retain"):
        req = consent.ask(ex, bravo, sid, what, "need it")
        consent.answer(ex, iapi.node.members["alpha"].id, req.id, None, None, grant=True)
    gate = Access(ex, bravo)
    assert gate.forward(gate.fetch(sid)[1]).reason == "ok.grant"  # type: ignore[index]
    late = Access(ex, bravo, now=later)
    assert late.read(late.fetch(sid)[1])  # type: ignore[index]
    sql, args = late.readable_sql()
    assert sid in {r[0] for r in ex.store.query(sql, args)}
    # delta, without grants, still may not
    d = Access(ex, iapi.node.members["delta"].id, now=later)
    assert not d.read(d.fetch(sid)[1])  # type: ignore[index]
    sql, args = d.readable_sql()
    assert sid not in {r[0] for r in ex.store.query(sql, args)}


def test_asking_for_an_allowed_use_or_a_share_out_of_reach(iapi: IntelApi) -> None:
    sid = share(iapi, code="x-none")
    r = iapi.client.post(f"/api/v1/shares/{sid}/consent", json={"use": "court", "reason": "x"},
                         headers=iapi.h("bravo"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "consent.not_needed"
    r = iapi.client.post(f"/api/v1/shares/{sid}/consent", json={"use": "court", "reason": "x"},
                         headers=iapi.h("charlie"))
    assert r.status_code == 404
    r = iapi.client.post(f"/api/v1/shares/{sid}/consent", json={"use": "sell", "reason": "x"},
                         headers=iapi.h("bravo"))
    assert r.status_code == 400


@pytest.mark.parametrize("what", ["court"])
def test_grants_end(iapi: IntelApi, what: str) -> None:
    sid = share(iapi)
    ex = iapi.exchange
    bravo = iapi.node.members["bravo"].id
    req = consent.ask(ex, bravo, sid, what, "trial")
    consent.answer(ex, iapi.node.members["alpha"].id, req.id, None, None, grant=True,
                   until="2099-01-01T00:00:00.000Z")
    now = Access(ex, bravo)
    assert now.use(now.fetch(sid)[1], what)  # type: ignore[index]
    after = Access(ex, bravo, now="2099-01-02T00:00:00.000Z")
    v = after.fetch(sid)[1]  # type: ignore[index]
    assert after.use(v, what).reason == "policy.grant_required"
