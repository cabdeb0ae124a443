"""The log as members use it: proofs on delivery, checkpoints, gossip (a member's
audit: tests/client/test_audit.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from tests.web.conftest import Api
from tests.web.helpers import bundle_text, indicator, publish, sdk

from vigil.errors import CryptoError
from vigil.log.checkpoint import Checkpoint, sign_checkpoint
from vigil.log.entries import entry_bytes, share_entry
from vigil.log.merkle import leaf_hash


def forged(api: Api, size: int) -> str:
    """A checkpoint the node's key signed for a root that is not its tree's (what a
    node showing two histories would hand out)."""
    log = api.exchange.log
    return sign_checkpoint(Checkpoint(log.origin, size, b"\x07" * 32), log.key_name,
                           log._key)


def test_every_delivered_share_carries_a_proof_the_sdk_checks(api: Api, tmp_path: Path) -> None:
    ids = [publish(api, "alpha", bundle_text(indicator()), tlp="amber", to="a-b")["id"]
           for _ in range(3)]
    with sdk(api, "bravo", tmp_path / "cp.json") as c:
        items = list(c.inbox())
        assert [i.share_id for i in items] == ids
        assert all(i.log_index is not None for i in items)
        share = c.get(str(ids[1]))
        assert share.log_index == items[1].log_index
        assert (tmp_path / "cp.json").exists()
        # the log entry of one share presented with another fails
        doc = api.client.get(f"/api/v1/shares/{ids[0]}", headers=api.h("bravo")).json()
        other = c.envelope(str(ids[2]))[0]
        with pytest.raises(CryptoError) as err:
            c.log_verifier().verify_share(other, doc["log"])
        assert err.value.code == "log.bad_inclusion"
        with pytest.raises(CryptoError):
            c.log_verifier().verify_share(other, None)


def test_checkpoints_must_extend_what_was_accepted(api: Api, tmp_path: Path) -> None:
    publish(api, "alpha", tlp="amber", to="a-b")
    state = tmp_path / "cp.json"
    with sdk(api, "bravo", state) as c:
        first = c.checkpoint()
        assert c.log_verifier().first_use
        publish(api, "alpha", tlp="amber", to="a-b")
        second = c.checkpoint()
        assert second.size == first.size + 1
    # a new client process picks up the accepted checkpoint from the state file
    with sdk(api, "bravo", state) as c:
        v = c.log_verifier()
        assert v.latest is not None and v.latest[0] == second.size and not v.first_use
        old = api.exchange.log.checkpoint(first.size)[1]
        assert c.log_verifier().accept(old).size == first.size  # an old one, consistent
        with pytest.raises(CryptoError) as err:
            v.accept(old, latest=True)  # but not as the latest: a rollback
        assert err.value.code == "log.rollback"
        with pytest.raises(CryptoError) as err:
            v.accept(forged(api, second.size))
        assert err.value.code == "log.fork"
        publish(api, "alpha", tlp="amber", to="a-b")
        with pytest.raises(CryptoError) as err:
            v.accept(forged(api, second.size + 1))  # not consistent with the held one
        assert err.value.code == "log.fork"
        kinds = [e["kind"] for e in v.evidence]
        assert kinds == ["rollback", "fork", "fork"]
        assert all(len(e["checkpoints"]) == 2 for e in v.evidence)
    with sdk(api, "bravo", state) as c:
        assert len(c.log_verifier().evidence) == 3  # evidence is kept


def test_entries_show_only_what_a_member_may_see(api: Api) -> None:
    sid = publish(api, "alpha", tlp="amber", to="a-b")["id"]
    for who, sees in (("alpha", True), ("bravo", True), ("charlie", False)):
        doc = api.client.get("/api/v1/log/entries", headers=api.h(who)).json()
        shares = [e for e in doc["entries"] if e.get("entry", {}).get("kind") == "share"]
        assert ([e["entry"]["share"] for e in shares] == [sid]) is sees
        assert len(doc["entries"]) == api.exchange.log.size()  # every leaf hash, always
    r = api.client.get(f"/api/v1/log/shares/{sid}", headers=api.h("charlie"))
    assert r.status_code == 404
    r = api.client.get(f"/api/v1/log/shares/{sid}", headers=api.h("bravo"))
    assert r.json()["entries"][0]["kind"] == "share"
    bad = api.client.get("/api/v1/log/entries", params={"start": 5, "end": 2},
                         headers=api.h("bravo"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "log.bad_range"
    big = api.client.get("/api/v1/log/inclusion", params={"index": 0, "size": 10**6},
                         headers=api.h("bravo"))
    assert big.status_code == 404 and big.json()["error"]["code"] == "log.bad_size"


def test_channel_and_member_events_are_logged(api: Api) -> None:
    m = api.node.members
    api.client.post("/api/v1/channels/group1/members", json={"member": "charlie"},
                    headers=api.h("alpha"))
    entries = [leaf for _, leaf in api.exchange.log.entries(0, api.exchange.log.size())]
    text = b"\n".join(entries)
    assert text.count(b'"kind":"member"') == 4
    assert b'"event":"create"' in text and b'"event":"join"' in text
    assert m["charlie"].id.encode() in text


def test_gossip_flags_two_roots_for_one_size(api: Api) -> None:
    publish(api, "alpha", tlp="amber", to="a-b")
    log = api.exchange.log
    real = log.checkpoint()[1]
    size = log.size()
    ok = api.client.post("/api/v1/log/gossip", json={"checkpoint": real},
                         headers=api.h("bravo"))
    assert ok.status_code == 200 and ok.json()["forks"] == []
    bad = api.client.post("/api/v1/log/gossip", json={"checkpoint": forged(api, size)},
                          headers=api.h("charlie"))
    assert bad.json()["forks"]
    for who in ("alpha", "delta"):  # every member sees it, with both signed notes
        forks = api.client.get("/api/v1/log/gossip", headers=api.h(who)).json()["forks"]
        assert len(forks) == 1 and forks[0]["size"] == size
        assert set(forks[0]["checkpoints"]) == {real, forged(api, size)}
    unsigned = real.rsplit("\n\n", 1)[0] + "\n\n"
    r = api.client.post("/api/v1/log/gossip", json={"checkpoint": unsigned},
                        headers=api.h("bravo"))
    assert r.status_code in (400, 422)


def test_share_entry_is_rebuilt_from_the_envelope(api: Api) -> None:
    sid = str(publish(api, "alpha", tlp="amber", to="a-b")["id"])
    env = api.exchange.store.get_share(sid)
    assert env is not None
    ref = api.exchange.log.share_refs([sid])[sid]
    data = dict(api.exchange.log.entries(ref.index, ref.index + 1))[ref.index]
    assert data == entry_bytes(share_entry(env[0]))
    assert leaf_hash(data) != leaf_hash(entry_bytes({"kind": "share"}))
    assert base64.b64decode(ref.to_json()["root"] + "==", altchars=b"-_") == ref.root


class HoldAll:
    """A read gate that holds every share back from one member until 2999."""

    def __init__(self, member: str) -> None:
        self.member = member

    def release(self, members: object) -> None:
        pass

    def not_before(self, member: str, share_ids: list[str]) -> dict[str, str]:
        return {s: "2999-01-01T00:00:00.000Z" for s in share_ids} if member == self.member \
            else {}

    def preview(self, request: object, decision: object) -> dict[str, object]:
        return {}


def test_a_held_back_shares_entry_stays_hidden_until_it_is_due(api: Api) -> None:
    sid = publish(api, "alpha", tlp="amber", to="a-b")["id"]
    api.exchange.read_gate = HoldAll(api.node.members["bravo"].id)
    try:
        for who, sees in (("bravo", False), ("alpha", True)):
            doc = api.client.get("/api/v1/log/entries", headers=api.h(who)).json()
            shown = [e["entry"].get("share") for e in doc["entries"] if "entry" in e]
            assert (sid in shown) is sees
    finally:
        api.exchange.read_gate = None


def test_a_members_keys_come_with_their_logged_entry_and_its_proof(
        api: Api, tmp_path: Path) -> None:
    from vigil import clock
    from vigil.crypto.keyring import Keyring
    from vigil.log.entries import member_entry

    bravo = api.node.members["bravo"]
    doc = api.client.get("/api/v1/members/bravo", headers=api.h("alpha")).json()
    log = doc["log"]
    assert {k: v for k, v in log["entry"].items() if k != "at"} == {
        "v": 1, "kind": "member", "member": bravo.id, "event": "add",
        "sign_key": doc["sign_key"]["id"], "enc_key": doc["enc_key"]["id"]}
    listed = api.client.get("/api/v1/members", params={"log": "true"},
                            headers=api.h("alpha")).json()["members"]
    assert all(m["log"]["entry"]["member"] == m["id"] for m in listed)
    assert "log" not in api.client.get("/api/v1/members",
                                       headers=api.h("alpha")).json()["members"][0]
    with sdk(api, "alpha", tmp_path / "cp.json") as c:
        assert c.log_verifier().verify_entry(log["entry"], log) == log["index"]
        assert c.member("bravo")["id"] == bravo.id
    # the node logs other keys in bravo's name: the keys it serves no longer match them
    fake = Keyring.generate(bravo.id)
    ex = api.exchange
    ex.store.write(lambda sql: ex.log.append(sql, member_entry(
        bravo.id, "add", fake.sign_key_id, fake.enc_key_id, clock.now())))
    doc = api.client.get("/api/v1/members/bravo", headers=api.h("alpha")).json()
    assert doc["log"]["entry"]["sign_key"] == fake.sign_key_id
    with sdk(api, "alpha", tmp_path / "cp.json") as c, pytest.raises(CryptoError) as err:
        c.member("bravo")
    assert err.value.code == "log.key_mismatch"
