"""The key life cycle routes (``vigil.web.keys``) over a real app: a recovery key
registered and a recovery made with it, each answered with the keys now in use; a
revocation on compromise; the member's key history for any member; re-wrapped content
keys stored and found only for a share the member may read."""

from __future__ import annotations

from tests.web.conftest import Api

from vigil.crypto.encoding import b64u
from vigil.crypto.keyring import Keyring
from vigil.crypto.keys import alg_of
from vigil.crypto.seal import WRAP_BLOB_LENS
from vigil.protocol import key_statements as statements
from vigil.testing.stix import ioc_bundle


def test_recovery_revocation_and_history(api: Api) -> None:
    kr = api.node.members["alpha"].keyring
    h = api.h("alpha")
    recovery = Keyring.generate(kr.member_id, hybrid=False)
    reg = statements.signed(
        statements.recovery_key(kr, recovery.sign_private),
        old=kr.sign_private,
        new=recovery.sign_private,
    )
    r = api.client.post("/api/v1/keys/recovery", json=reg, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"recovery_key": recovery.sign_key_id}
    new = Keyring.generate(kr.member_id, hybrid=False)
    rec = statements.signed(
        statements.rotation(kr.member_id, kr, new, event="recover"),
        recovery=recovery.sign_private,
        new=new.sign_private,
    )
    r = api.client.post("/api/v1/keys/recover", json=rec, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"sign_key": new.sign_key_id, "enc_key": new.enc_key_id}
    history = api.client.get("/api/v1/members/alpha/keys", headers=api.h("bravo"))
    assert history.status_code == 200
    ids = {k["id"]: k for k in history.json()["keys"]}
    assert {kr.sign_key_id, new.sign_key_id} <= set(ids)
    assert ids[kr.sign_key_id]["retired"] is not None
    r = api.client.post("/api/v1/keys/revoke", json={"since": "2d"}, headers=api.h("bravo"))
    assert r.status_code == 200, r.text
    assert r.json()["revoked"]["since"] < r.json()["revoked"]["at"]
    bravo = {
        k["id"]: k for k in api.client.get("/api/v1/members/bravo/keys", headers=h).json()["keys"]
    }
    assert any(k["revoked"] for k in bravo.values())
    bad = api.client.post("/api/v1/keys/recover", json=rec, headers=api.h("charlie"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "keys.bad_statement"


def test_rewraps_are_the_member_s_own(api: Api) -> None:
    r = api.client.post(
        "/api/v1/shares",
        params={"tlp": "amber", "to": "member:bravo"},
        content=ioc_bundle("45.9.9.9"),
        headers=api.h("alpha"),
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    bravo = api.node.members["bravo"].keyring
    size = WRAP_BLOB_LENS[alg_of(bravo.enc_key_id)]
    item = {"share": sid, "key": bravo.enc_key_id, "blob": b64u(b"w" * size)}
    r = api.client.post("/api/v1/rewraps", json={"rewraps": [item]}, headers=api.h("bravo"))
    assert r.status_code == 200 and r.json() == {"stored": 1}
    got = api.client.get(f"/api/v1/shares/{sid}/rewrap", headers=api.h("bravo"))
    assert got.status_code == 200 and got.json()["key"] == bravo.enc_key_id
    for who in ("charlie", "alpha"):  # not a reader / no rewrap of its own
        r = api.client.get(f"/api/v1/shares/{sid}/rewrap", headers=api.h(who))
        assert (r.status_code, r.json()["error"]["code"]) == (404, "share.not_found")
    charlie = {**item, "key": api.node.members["charlie"].keyring.enc_key_id}
    r = api.client.post("/api/v1/rewraps", json={"rewraps": [charlie]}, headers=api.h("charlie"))
    assert r.status_code == 404  # a share it may not read answers as a missing one
    r = api.client.post("/api/v1/rewraps", json={"rewraps": [item]}, headers=api.h("charlie"))
    assert r.json()["error"]["pointer"] == "/rewraps/0/key"  # only its own current key
    r = api.client.post("/api/v1/rewraps", json={"rewraps": "no"}, headers=api.h("bravo"))
    assert (r.status_code, r.json()["error"]["code"]) == (400, "input.rewrap")
