"""The console shows a share's evaluation and legal basis, refuses a court use without
the originator's grant (policy.grant_required, as on every path), carries a consent
request to the originator's answer, asks a purpose before opening personal data, and
publishes with an evaluation and a legal basis."""

from __future__ import annotations

import json
import uuid

from vigil.model import Actor, Tlp

from .conftest import TS, Console, csrf_of, ioc_bundle


def publish(con: Console, personal: bool = False) -> str:
    ex = con.exchange
    req = ex.make_request(con.id("alpha"), tlp=Tlp.AMBER, to=["group1"], themes=["terrorism"],
                          codes=["no-court"], evaluation="4x4:A2", legal_basis="eu-2016/794",
                          legal_purposes=["investigation"], personal_data=personal)
    raw = ioc_bundle("198.51.100.9")
    if personal:
        bundle = json.loads(raw)
        bundle["objects"].insert(0, {
            "type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}",
            "created": TS, "modified": TS, "name": "A. Person",
            "identity_class": "individual"})
        raw = json.dumps(bundle).encode()
    return ex.publish_bundle(Actor(con.id("alpha"), "u"), raw, req).envelope.id


def test_court_use_consent_and_the_shown_evaluation(console: Console) -> None:
    sid = publish(console)
    b = console.sign_in("bravo")
    page = b.get(f"/shares/{sid}").text
    assert "4x4:A2" in page and "= A2" in page and "Europol Regulation" in page
    assert "[4x4:A2]" in b.get("/").text  # the inbox shows the evaluation too
    token = csrf_of(page)
    r = b.post(f"/shares/{sid}/uses", data={"csrf": token, "use": "court",
                                            "purpose": "trial"})
    assert r.status_code == 403 and "policy.grant_required" in r.text
    r = b.post(f"/shares/{sid}/consent", data={"csrf": token, "use": "court",
                                               "reason": "trial of case 9"})
    assert r.status_code == 303
    a = console.sign_in("alpha")
    page = a.get(f"/shares/{sid}").text
    assert "trial of case 9" in page and 'value="grant"' in page
    req_id = page.split('name="request" value="', 1)[1].split('"', 1)[0]
    r = a.post("/consent/answer", data={"csrf": csrf_of(page), "request": req_id,
                                        "answer": "grant", "until": ""})
    assert r.status_code == 303
    r = b.post(f"/shares/{sid}/uses", data={"csrf": token, "use": "court",
                                            "purpose": "trial"})
    assert r.status_code == 303
    assert "trial" in a.get(f"/shares/{sid}").text.split("Declared uses", 1)[1]
    # charlie, who may not read it, is told nothing of it
    c = console.sign_in("charlie")
    token_c = csrf_of(c.get("/publish").text)
    assert c.post(f"/shares/{sid}/uses", data={"csrf": token_c, "use": "court",
                                               "purpose": "x"}).status_code == 404


def test_personal_data_asks_a_purpose_first(console: Console) -> None:
    sid = publish(console, personal=True)
    b = console.sign_in("bravo")
    page = b.get(f"/shares/{sid}").text
    assert "holds personal data" in page and "A. Person" not in page
    page = b.get(f"/shares/{sid}", params={"purpose": "identity check"}).text
    assert "A. Person" in page


def test_publish_form_takes_evaluation_and_legal_basis(console: Console) -> None:
    a = console.sign_in("alpha")
    page = a.get("/publish").text
    assert "eu-2016/794" in page and "financial-investigation" in page
    form = {"csrf": csrf_of(page), "kind": "auto", "content": "198.51.100.77",
            "channel": "group1", "tlp": "amber", "themes": "terrorism", "purpose": "",
            "expires": "", "more_themes": "", "regions": "", "action": "preview"}
    r = a.post("/publish", data=form)
    assert r.status_code == 403 and "policy.evaluation_required" in r.text
    form.update(scheme="admiralty", evaluation="B2", legal_basis="bilateral",
                legal_purposes="prevention")
    r = a.post("/publish", data=form)
    assert r.status_code == 200, r.text
    seal = r.text.split('name="previewed" value="', 1)[1].split('"', 1)[0]
    r = a.post("/publish", data={**form, "action": "send", "previewed": seal})
    assert r.status_code == 303, r.text
    page = a.get(r.headers["location"]).text
    assert "B2" in page and "a bilateral agreement" in page
