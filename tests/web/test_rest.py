"""The REST API over a real app (in-process ASGI), SQLite and the local bus."""

from __future__ import annotations

import uuid

from tests.web.conftest import Api
from tests.web.helpers import GOOD, bundle_text, indicator, publish

from vigil.model import Audience, Form, Handling, Tlp
from vigil.protocol.envelope import build_share, envelope_to_json


def inbox_ids(api: Api, who: str) -> list[str]:
    r = api.client.get("/api/v1/inbox", headers=api.h(who))
    assert r.status_code == 200
    return [e["share_id"] for e in r.json()["entries"]]


def test_preview_lists_exact_recipients(api: Api) -> None:
    m = api.node.members
    r = api.client.post("/api/v1/preview", json={"tlp": "amber", "to": ["group1"]},
                        headers=api.h("alpha"))
    assert r.status_code == 200
    doc = r.json()
    assert {x["id"] for x in doc["recipients"]} == {m["bravo"].id, m["delta"].id}
    assert doc["form"] == "sealed"
    r = api.client.post("/api/v1/preview", json={"tlp": "green"}, headers=api.h("alpha"))
    assert {x["name"] for x in r.json()["recipients"]} == {"bravo", "charlie", "delta"}
    assert r.json()["form"] == "plain"
    r = api.client.post("/api/v1/preview", json={"tlp": "red", "to": ["member:charlie"]},
                        headers=api.h("alpha"))
    assert [x["name"] for x in r.json()["recipients"]] == ["charlie"]
    dry = api.client.post("/api/v1/shares", params={"tlp": "amber", "to": "a-b",
                                                    "dry_run": "true"},
                          content=GOOD.encode(), headers=api.h("alpha"))
    assert [x["name"] for x in dry.json()["recipients"]] == ["bravo"]
    assert api.exchange.store.share_count() == 0


def test_bilateral_share_reaches_only_the_counterpart(api: Api) -> None:
    res = publish(api, "alpha", tlp="amber", to="a-b", theme="cyber", region="ee")
    sid = str(res["id"])
    assert res["form"] == "sealed" and res["provenance"] == "originator"
    assert inbox_ids(api, "bravo") == [sid]
    assert inbox_ids(api, "charlie") == []
    assert inbox_ids(api, "delta") == []
    ok = api.client.get(f"/api/v1/shares/{sid}", headers=api.h("bravo"))
    assert ok.status_code == 200
    assert ok.json()["header"]["themes"] == ["cyber"]
    assert ok.json()["header"]["regions"] == ["EE"]
    hidden = api.client.get(f"/api/v1/shares/{sid}", headers=api.h("charlie"))
    missing = api.client.get(f"/api/v1/shares/share--{uuid.uuid4()}", headers=api.h("charlie"))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"]
    assert api.client.get(f"/api/v1/shares/{sid}/content",
                          headers=api.h("charlie")).status_code == 404
    content = api.client.get(f"/api/v1/shares/{sid}/content", headers=api.h("bravo"))
    assert content.status_code == 200
    assert content.content == GOOD.encode()


def test_sealed_share_for_client_held_keys_is_not_opened_by_node(api: Api) -> None:
    res = publish(api, "alpha", tlp="amber", to="group1")
    r = api.client.get(f"/api/v1/shares/{res['id']}/content", headers=api.h("delta"))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "share.sealed"


def test_community_green_is_plain_and_reaches_everyone(api: Api) -> None:
    res = publish(api, "bravo", tlp="green")
    assert res["form"] == "plain"
    for who in ("alpha", "charlie", "delta"):
        assert inbox_ids(api, who) == [res["id"]]
    assert inbox_ids(api, "bravo") == []
    sent = api.client.get("/api/v1/sent", headers=api.h("bravo")).json()
    assert [s["envelope"]["header"]["id"] for s in sent["shares"]] == [res["id"]]


def test_inbox_cursor_resumes(api: Api) -> None:
    ids = [publish(api, "alpha", bundle_text(indicator()), tlp="amber", to="a-b")["id"]
           for _ in range(5)]
    page = api.client.get("/api/v1/inbox", params={"limit": 2}, headers=api.h("bravo")).json()
    assert [e["share_id"] for e in page["entries"]] == ids[:2]
    rest = api.client.get("/api/v1/inbox", params={"after": page["next"]},
                          headers=api.h("bravo")).json()
    assert [e["share_id"] for e in rest["entries"]] == ids[2:]


def test_inbox_seq_counts_only_the_members_own_entries(api: Api) -> None:
    """bravo's seq and next go 1, 2, 3, … however many shares others receive between."""
    mine = []
    for i in range(4):
        for _ in range(i):  # shares bravo cannot see
            publish(api, "alpha", bundle_text(indicator()), tlp="red", to="member:charlie")
            publish(api, "charlie", bundle_text(indicator()), tlp="red", to="member:delta")
        mine.append(publish(api, "alpha", bundle_text(indicator()), tlp="amber",
                            to="a-b")["id"])
    page = api.client.get("/api/v1/inbox", headers=api.h("bravo")).json()
    assert [(e["seq"], e["share_id"]) for e in page["entries"]] == \
        [(k + 1, sid) for k, sid in enumerate(mine)]
    assert page["next"] == 4


def test_sent_seq_counts_only_the_members_own_shares(api: Api) -> None:
    """charlie's /sent cursor goes 1, 2, 3, … however many shares others publish."""
    mine = []
    for i in range(4):
        for _ in range(i):
            publish(api, "alpha", bundle_text(indicator()), tlp="red", to="member:bravo")
        mine.append(publish(api, "charlie", bundle_text(indicator()), tlp="green")["id"])
    page = api.client.get("/api/v1/sent", params={"limit": 3}, headers=api.h("charlie")).json()
    assert [(x["seq"], x["envelope"]["header"]["id"]) for x in page["shares"]] == \
        [(k + 1, sid) for k, sid in enumerate(mine[:3])]
    rest = api.client.get("/api/v1/sent", params={"after": page["next"]},
                          headers=api.h("charlie")).json()
    assert [(x["seq"], x["envelope"]["header"]["id"]) for x in rest["shares"]] == \
        [(4, mine[3])]
    assert rest["next"] == 4


def test_republishing_same_envelope_is_idempotent(api: Api) -> None:
    res = publish(api, "alpha", tlp="amber", to="a-b")
    env = api.client.get(f"/api/v1/shares/{res['id']}", headers=api.h("alpha")).json()
    env.pop("state")
    assert env.pop("log")["index"] >= 0  # what the node adds beside the envelope
    # an attested/node-signed share is re-posted as an envelope: only originator-signed
    # envelopes are accepted from clients, so this is refused, and nothing is duplicated
    r = api.client.post("/api/v1/envelopes", json=env, headers=api.h("alpha"))
    assert r.status_code in (200, 201)
    assert inbox_ids(api, "bravo") == [res["id"]]


def test_channels_api(api: Api) -> None:
    names = [c["name"] for c in api.client.get("/api/v1/channels",
                                                headers=api.h("charlie")).json()["channels"]]
    assert names == ["everyone"]
    r = api.client.post("/api/v1/channels", json={"name": "c-group", "kind": "group",
                                                  "members": ["alpha"]}, headers=api.h("charlie"))
    assert r.status_code == 201
    assert sorted(r.json()["member_names"]) == ["alpha", "charlie"]
    r = api.client.post("/api/v1/channels/c-group/members", json={"member": "delta"},
                        headers=api.h("alpha"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "policy.not_owner"
    r = api.client.post("/api/v1/channels/c-group/members", json={"member": "delta"},
                        headers=api.h("charlie"))
    assert sorted(r.json()["member_names"]) == ["alpha", "charlie", "delta"]
    r = api.client.delete("/api/v1/channels/c-group/members/alpha", headers=api.h("charlie"))
    assert sorted(r.json()["member_names"]) == ["charlie", "delta"]
    events = api.client.get("/api/v1/channels/c-group", headers=api.h("charlie")).json()["events"]
    assert [e["event"] for e in events] == ["create", "join", "join", "join", "leave"]
    assert api.client.get("/api/v1/channels/c-group", headers=api.h("alpha")).status_code == 404
    r = api.client.post("/api/v1/channels/a-b/members", json={"member": "charlie"},
                        headers=api.h("alpha"))
    assert r.json()["error"]["code"] == "policy.channel_fixed"
    r = api.client.post("/api/v1/channels", json={"name": "bad", "kind": "bilateral",
                                                  "members": ["bravo", "charlie"]},
                        headers=api.h("alpha"))
    assert r.json()["error"]["code"] == "channel.bilateral_size"


def test_channel_names_do_not_tell_of_invisible_channels(api: Api) -> None:
    """charlie cannot see group1: creating a channel of that name answers as for a free
    name. A name two channels the caller sees bear is refused as ambiguous (by id it
    works); a name the caller already sees is taken."""
    assert api.client.get("/api/v1/channels/group1", headers=api.h("charlie")).status_code \
        == 404
    free = api.client.post("/api/v1/channels", json={"name": "free-name", "kind": "group",
                                                     "members": ["bravo"]},
                           headers=api.h("charlie"))
    taken = api.client.post("/api/v1/channels", json={"name": "group1", "kind": "group",
                                                      "members": ["bravo"]},
                            headers=api.h("charlie"))
    assert free.status_code == taken.status_code == 201, taken.text
    again = api.client.post("/api/v1/channels", json={"name": "group1", "kind": "group",
                                                      "members": []}, headers=api.h("alpha"))
    assert again.status_code == 409 and again.json()["error"]["code"] == "channel.exists"
    # bravo is in both channels named group1
    both = api.client.get("/api/v1/channels/group1", headers=api.h("bravo"))
    assert both.status_code == 409 and both.json()["error"]["code"] == "channel.ambiguous"
    by_id = api.client.get(f"/api/v1/channels/{taken.json()['id']}", headers=api.h("bravo"))
    assert by_id.status_code == 200
    own = api.client.get("/api/v1/channels/group1", headers=api.h("charlie"))
    assert own.json()["id"] == taken.json()["id"]


def _client_envelope(api: Api, who: str, share_id: str | None) -> dict[str, object]:
    """A plain community share signed by a member's own client keys, as JSON."""
    m = api.node.members[who]
    others = tuple(sorted(x.id for x in api.node.members.values() if x.name != who))
    env = build_share(plaintext=GOOD.encode(), originator=m.id,
                      audience=Audience(Tlp.GREEN, None, others), recipients=others,
                      form=Form.PLAIN, handling=Handling(None, False, ()), themes=(),
                      regions=(), expires=None, signer_private=m.keyring.sign_private,
                      signer_key_id=m.keyring.sign_key_id, recipient_keys={},
                      share_id=share_id)
    return envelope_to_json(env)


def test_share_ids_of_others_answer_like_any_unbound_id(api: Api) -> None:
    """An envelope reusing another member's RED share id is refused exactly like one
    with a fresh id not bound to its originator; ids the SDK makes are accepted."""
    red = str(publish(api, "alpha", tlp="red", to="member:bravo")["id"])
    answers = []
    for sid in (red, f"share--{uuid.uuid4()}"):
        r = api.client.post("/api/v1/envelopes", json=_client_envelope(api, "delta", sid),
                            headers=api.h("delta"))
        answers.append((r.status_code, r.json()["error"]["code"],
                        r.json()["error"].get("pointer")))
    assert answers[0] == answers[1] == (400, "share.id_unbound", "/header/id")
    doc = _client_envelope(api, "delta", None)
    ok = api.client.post("/api/v1/envelopes", json=doc, headers=api.h("delta"))
    assert ok.status_code == 201, ok.text
    again = api.client.post("/api/v1/envelopes", json=doc, headers=api.h("delta"))
    assert again.status_code in (200, 201)
    assert inbox_ids(api, "bravo").count(ok.json()["id"]) == 1


def test_openapi_document(api: Api) -> None:
    doc = api.client.get("/api/openapi.json").json()
    for path in ("/api/v1/shares", "/api/v1/preview", "/api/v1/inbox", "/api/v1/stream",
                 "/api/v1/shares/{share_id}", "/api/v1/channels", "/api/v1/members"):
        assert path in doc["paths"], path
