"""Evaluation, legal basis, purposes and personal data on the publishing paths: REST
(node-signed) and a member's own signed envelope, and shown when the share is read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange
from tests.intel.conftest import LEGAL, person
from tests.intel.conftest import IntelApi as Api
from tests.web.helpers import bundle_text, indicator

from vigil.bus.local import LocalBus
from vigil.crypto.encoding import b64u_decode as b64decode
from vigil.intel import evaluation, legal
from vigil.model import Audience, Form, Handling, IntelRules, Tlp
from vigil.protocol.envelope import build_share, envelope_to_json
from vigil.web import create_app


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    node, ex = four_member_exchange(tmp_path / "node")
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as client:
        yield Api(node, client, ex)
    ex.store.close()


def publish(api: Api, body: str, who: str = "alpha", **params: Any) -> Any:
    p: dict[str, Any] = {"tlp": "amber", "to": "group1", "theme": "terrorism", **params}
    return api.client.post("/api/v1/shares", params=p, content=body.encode(),
                           headers=api.h(who))


def test_terrorism_needs_evaluation_legal_basis_and_purposes(api: Api) -> None:
    body = bundle_text(indicator())
    r = publish(api, body)
    assert r.status_code == 403 and r.json()["error"]["code"] == "policy.evaluation_required"
    r = publish(api, body, evaluation="B2")
    assert r.json()["error"]["code"] == "policy.legal_basis_required"
    r = publish(api, body, evaluation="B2", legal_basis="eu-2016/794")
    assert r.json()["error"]["code"] == "policy.purpose_required"
    r = publish(api, body, evaluation="4x4:B2", **LEGAL)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    got = api.client.get(f"/api/v1/shares/{sid}", headers=api.h("bravo")).json()
    h = got["envelope"]["header"] if "envelope" in got else got["header"]
    assert h["evaluation"] == {"scheme": "4x4", "source": "B", "information": "2"}
    assert h["legal"] == {"basis": "eu-2016/794", "purposes": ["investigation"],
                          "personal_data": False}
    # cyber alone needs none of it
    assert publish(api, body, theme="cyber").status_code == 201


def test_a_node_without_the_rule_takes_terrorism_unevaluated(api: Api) -> None:
    api.exchange.intel_rules = IntelRules(require_evaluation=False)
    assert publish(api, bundle_text(indicator())).status_code == 201


def test_personal_data_without_a_legal_basis_is_refused(api: Api) -> None:
    body = bundle_text(person())
    r = publish(api, body, theme="cyber")
    assert r.status_code == 422 and r.json()["error"]["code"] == "input.personal_data"
    kinds = {f["kind"] for f in r.json()["error"]["detail"]["findings"]}
    assert kinds == {"person", "passport", "phone"}
    r = publish(api, body, theme="cyber", personal_data="true")
    assert r.status_code == 403 and r.json()["error"]["code"] == "policy.personal_data_basis"
    r = publish(api, body, theme="cyber", personal_data="true", **LEGAL)
    assert r.status_code == 201, r.text


def test_personal_data_sealed_where_the_node_says_so(api: Api) -> None:
    api.exchange.intel_rules = IntelRules(seal_personal_data=True)
    body = bundle_text(person())
    r = publish(api, body, theme="cyber", tlp="green", to="everyone", personal_data="true",
                **LEGAL)
    assert r.status_code == 403 and r.json()["error"]["code"] == "policy.personal_data_sealed"
    r = publish(api, body, theme="cyber", tlp="amber", personal_data="true", **LEGAL)
    assert r.status_code == 201


def client_envelope(api: Api, **kw: Any) -> dict[str, Any]:
    pv = api.client.post("/api/v1/preview", json={"tlp": "amber", "to": ["group1"]},
                         headers=api.h("delta")).json()
    recipients = tuple(r["id"] for r in pv["recipients"])
    m = api.node.members["delta"]
    keys = {r["id"]: (r["enc_key"]["id"], b64decode(r["enc_key"]["public"]))
            for r in pv["recipients"]}
    args: dict[str, Any] = {
        "plaintext": bundle_text(person()).encode(), "originator": m.id,
        "audience": Audience(Tlp.AMBER, pv["audience"]["channel"], recipients),
        "recipients": recipients, "form": Form.SEALED,
        "handling": Handling(None, False, ()), "themes": ("terrorism",), "regions": (),
        "expires": None, "signer_private": m.keyring.sign_private,
        "signer_key_id": m.keyring.sign_key_id, "recipient_keys": keys}
    args.update(kw)
    return envelope_to_json(build_share(**args))


def test_client_signed_envelopes_meet_the_same_rules(api: Api) -> None:
    post = lambda env: api.client.post("/api/v1/envelopes", json=env,  # noqa: E731
                                       headers=api.h("delta"))
    r = post(client_envelope(api))
    assert r.status_code == 403 and r.json()["error"]["code"] == "policy.evaluation_required"
    r = post(client_envelope(api, evaluation=evaluation.parse("A1")))
    assert r.json()["error"]["code"] == "policy.legal_basis_required"
    ok = client_envelope(api, evaluation=evaluation.parse("A1"),
                         legal=legal.legal_basis("bilateral", ["prevention"]),
                         personal_data=True)
    assert post(ok).status_code == 201
    # the signature covers them: changing the evaluation breaks it
    ok["header"]["evaluation"]["source"] = "B"
    assert post(ok).status_code == 422


def test_inbox_filters_by_theme(api: Api) -> None:
    body = bundle_text(indicator())
    t = publish(api, body, theme="terrorism/financing", evaluation="B2", **LEGAL).json()["id"]
    o = publish(api, body, theme="organised-crime", evaluation="B2", **LEGAL).json()["id"]
    c = publish(api, body, theme="cyber").json()["id"]

    def ids(*themes: str) -> set[str]:
        got = api.client.get("/api/v1/inbox", params={"theme": list(themes)},
                             headers=api.h("bravo")).json()["entries"]
        return {e["share_id"] for e in got}

    assert ids("terrorism") == {t}
    assert ids("terrorism/financing", "cyber") == {t, c}
    assert ids("organised-crime") == {o}
    assert ids("critical-infrastructure") == set()
