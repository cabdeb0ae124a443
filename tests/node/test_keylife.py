"""The key life cycle over the REST API and the SDK, on SQLite and PostgreSQL: rotation
(old shares still verify and open, new ones are wrapped to the new key, held shares
re-wrapped on the member's client), expiry with warnings, revocation on compromise (the
drill: refused on every surface after the point, "signed before revocation" before it)
and recovery with a pre-registered key."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from vigil import clock
from vigil.bus.local import LocalBus
from vigil.client import Client
from vigil.client import keys as client_side
from vigil.crypto.keyring import load_keyring
from vigil.directory.log import DirectoryLog
from vigil.directory.revocation import Revocations
from vigil.errors import CryptoError, PolicyDenied
from vigil.federation.trust_directory import register_keys
from vigil.model import ChannelKind
from vigil.node import keylife as actions
from vigil.node.exchange import Exchange
from vigil.testing import PASSPHRASE, TestNode, make_node, stix
from vigil.web import create_app


def bundle(name: str) -> bytes:
    return stix.bundle(stix.indicator("198.51.100.9", name=name,
                                      indicator_types=["malicious-activity"]))


@dataclass
class Node:
    node: TestNode
    ex: Exchange
    http: TestClient
    tmp: Path

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node.members[name].token}"}

    def sdk(self, name: str, keyring: Any = None) -> Client:
        m = self.node.members[name]
        return Client("http://testserver", m.token, keyring or m.keyring,
                      transport=self.http._transport,
                      log_state=self.tmp / f"{name}-{uuid.uuid4().hex[:6]}.json")

    def publish(self, who: str, to: str, name: str, client: Client | None = None,
                tlp: str = "amber") -> str:
        cl = client or self.sdk(who)
        return str(cl.publish(bundle(name), tlp=tlp, to=[f"member:{to}"] if to else [])["id"])


@pytest.fixture(params=["sqlite", "postgresql"])
def n(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    node = make_node(tmp_path / "node", {"alpha": False, "bravo": False, "charlie": False},
                     store=store)
    ex = node.exchange()
    ex.create_channel(node.members["alpha"].id, "everyone", ChannelKind.COMMUNITY, [])
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    try:
        with TestClient(app) as http:
            yield Node(node, ex, http, tmp_path)
    finally:
        ex.store.close()


def entries(n: Node, event: str) -> list[dict[str, Any]]:
    rows = n.ex.store.read(lambda sql: sql.execute(
        "SELECT data FROM log_leaves WHERE kind='member' ORDER BY idx").fetchall())
    return [e for e in (orjson.loads(bytes(r[0])) for r in rows) if e["event"] == event]


def test_rotation_keeps_old_shares_and_wraps_new_ones_to_the_new_key(n: Node) -> None:
    bravo = n.node.members["bravo"]
    before = n.publish("alpha", "bravo", "before rotation")
    by_bravo = n.publish("bravo", "alpha", "bravo's old key")
    cl = n.sdk("bravo")
    assert cl.get(before).bundle is not None
    old_enc = bravo.keyring.enc_key_id

    new = client_side.rotate(cl, bravo.keyring_path, PASSPHRASE)
    assert new.sign_key_id != bravo.keyring.sign_key_id
    m = n.ex.directory().members[bravo.id]
    assert (m.sign_key_id, m.enc_key_id) == (new.sign_key_id, new.enc_key_id)
    # logged, with the statement signed by the old key and the new one
    [e] = entries(n, "rotate")
    assert e["previous"]["sign_key"] == bravo.keyring.sign_key_id
    assert e["sign_key"] == new.sign_key_id and set(e["signatures"]) == {"old", "new"}
    # the old keyring is kept beside the new one; the node keeps the old public keys
    assert bravo.keyring_path.with_name(bravo.keyring_path.name + ".retired-1").exists()
    assert load_keyring(bravo.keyring_path, PASSPHRASE).sign_key_id == new.sign_key_id

    # an old share opens with the retired key, then (re-wrapped) with the new key alone
    assert cl.get(before).bundle is not None
    assert client_side.rewrap(cl) == 1
    fresh = n.sdk("bravo", keyring=new)
    assert fresh.get(before).bundle is not None
    assert n.http.get(f"/api/v1/shares/{before}/rewrap",
                      headers=n.h("bravo")).json()["key"] == new.enc_key_id
    # ... a rewrap is only for the member's own, readable shares
    r = n.http.get(f"/api/v1/shares/{before}/rewrap", headers=n.h("charlie"))
    assert r.status_code == 404

    # new shares to bravo are wrapped to its new key; bravo signs with the new key
    after = n.publish("alpha", "bravo", "after rotation")
    env, _ = fresh.envelope(after)
    assert [w.key for w in env.wraps if w.member == bravo.id] == [new.enc_key_id]
    assert old_enc != new.enc_key_id
    mine = n.publish("bravo", "alpha", "bravo's new key", client=fresh)
    alpha = n.sdk("alpha")
    assert "verified" in alpha.get(mine).signer
    # a share bravo signed with its old key still verifies (the key proven by its
    # log entry)
    assert "verified" in alpha.get(by_bravo).signer
    # the old key signs nothing new
    with pytest.raises((PolicyDenied, CryptoError)) as info:
        n.publish("bravo", "alpha", "old key again", client=n.sdk("bravo", bravo.keyring))
    assert info.value.code == "crypto.key_mismatch"


def test_rotation_needs_both_signatures_and_fresh_keys(n: Node) -> None:
    from vigil.crypto.keyring import Keyring
    from vigil.protocol import key_statements as statements

    kr = n.node.members["alpha"].keyring
    new = Keyring.generate(kr.member_id)
    other = Keyring.generate(kr.member_id)
    st = statements.rotation(kr.member_id, kr, new)
    cases = {
        "keys.bad_signature": statements.signed(st, old=other.sign_private,
                                               new=new.sign_private),
        "keys.bad_signature#2": statements.signed(st, old=kr.sign_private,
                                                 new=other.sign_private),
        "keys.bad_statement": {"statement": st, "signatures": {"old": "AA"}},
    }
    for code, body in cases.items():
        r = n.http.post("/api/v1/keys/rotate", json=body, headers=n.h("alpha"))
        assert r.status_code in (400, 403, 422), r.text
        assert r.json()["error"]["code"] == code.split("#")[0]
    # another member's statement is refused whatever its signatures
    r = n.http.post("/api/v1/keys/rotate", json=statements.signed(
        st, old=kr.sign_private, new=new.sign_private), headers=n.h("bravo"))
    assert r.json()["error"]["code"] == "keys.bad_statement"
    # a key used before cannot come back
    good = statements.signed(st, old=kr.sign_private, new=new.sign_private)
    assert n.http.post("/api/v1/keys/rotate", json=good, headers=n.h("alpha")).status_code \
        == 200
    back = statements.rotation(kr.member_id, new, kr)
    r = n.http.post("/api/v1/keys/rotate", json=statements.signed(
        back, old=new.sign_private, new=kr.sign_private), headers=n.h("alpha"))
    assert r.json()["error"]["code"] == "keys.reused"


def test_compromise_drill(n: Node) -> None:
    alpha = n.node.members["alpha"]
    cl = n.sdk("alpha")
    recovery = client_side.register_recovery(cl, n.tmp / "alpha.recovery", PASSPHRASE)
    [reg] = entries(n, "recovery-key")
    assert reg["recovery_key"] == recovery.sign_key_id

    # community-wide TLP:GREEN shares (plain), so that the node's TAXII serves them
    before = n.publish("alpha", "", "signed before the compromise", client=cl,
                       tlp="green")
    time.sleep(0.005)  # the revocation point falls strictly between the two shares
    point = clock.now()
    time.sleep(0.005)
    stolen = n.publish("alpha", "", "signed by the thief", client=cl, tlp="green")
    assert {"signed before the compromise", "signed by the thief"} <= taxii_names(n, "bravo")
    bravo = n.sdk("bravo")
    stolen_env, _ = bravo.envelope(stolen)  # a copy taken before the revocation

    rec = actions.revoke(n.ex, "alpha", since=point)
    assert rec.revoked and rec.revoked_since == point
    [e] = entries(n, "revoke")
    assert e["sign_key"] == alpha.keyring.sign_key_id and e["since"] == point

    # every surface refuses the share signed after the point, as a missing one
    h = n.h("bravo")
    assert n.http.get(f"/api/v1/shares/{stolen}", headers=h).status_code == 404
    inbox = n.http.get("/api/v1/inbox", headers=h).json()["entries"]
    assert stolen not in [x["share_id"] for x in inbox]
    assert before in [x["share_id"] for x in inbox]
    page = console(n, "bravo")
    assert page.get(f"/shares/{stolen}").status_code == 404
    shown = page.get(f"/shares/{before}")
    assert shown.status_code == 200 and "verified, signed before revocation" in shown.text
    taxii = taxii_names(n, "bravo")
    assert "signed before the compromise" in taxii and "signed by the thief" not in taxii
    # the SDK (and so the gateway, which verifies through it) refuses it even when a
    # node serves it
    fresh = n.sdk("bravo")
    with pytest.raises(CryptoError) as info:
        fresh.verify(stolen_env)
    assert info.value.code == "keys.revoked"
    # the share before the point still verifies, marked
    got = fresh.get(before)
    assert got.signer.endswith("signed before revocation") and got.bundle is not None
    # later signatures with the revoked key are refused
    with pytest.raises(PolicyDenied) as info2:
        n.publish("alpha", "bravo", "after revocation", client=cl)
    assert info2.value.code == "keys.revoked"
    # rotating with the revoked key is refused; recovering with the recovery key works
    with pytest.raises(PolicyDenied):
        client_side.rotate(cl, alpha.keyring_path, PASSPHRASE)
    new = client_side.recover(cl, recovery, alpha.keyring_path, PASSPHRASE)
    [rc] = entries(n, "recover")
    assert rc["sign_key"] == new.sign_key_id and set(rc["signatures"]) == {"recovery", "new"}
    again = n.publish("alpha", "bravo", "after recovery", client=n.sdk("alpha", new))
    assert "verified" in n.sdk("bravo").get(again).signer
    # the recovered member's earlier share is still "signed before revocation"
    assert n.sdk("bravo").get(before).signer.endswith("signed before revocation")


def test_revocation_on_compromise_enters_the_key_directory(n: Node) -> None:
    alpha = n.node.members["alpha"]
    keydir = DirectoryLog(n.ex.store, n.ex.node_id, n.ex.node_key)
    register_keys(n.ex, alpha.keyring, keydir)
    n.publish("alpha", "bravo", "before")
    # the member's admin revokes over the API: the same point in the directory
    r = n.http.post("/api/v1/keys/revoke", json={}, headers=n.h("alpha"))
    assert r.status_code == 200, r.text
    [e] = entries(n, "revoke")
    kid = alpha.keyring.sign_key_id
    assert keydir.keys(alpha.id).revoked == {kid: e["from_index"]}
    [(_, signed)] = [x for x in keydir.member_entries(alpha.id) if x[1].kind == "revoke"]
    assert signed.entry["by"] == "node" and signed.sig is None
    assert Revocations(n.ex.store).point(kid) == e["from_index"] == n.ex.log.size() - 1
    # a member with no directory entry (a node that does not federate): local only
    actions.revoke(n.ex, "bravo")
    assert keydir.member_entries(n.node.members["bravo"].id) == []


def test_expiry_warns_then_refuses(n: Node) -> None:
    soon = clock.fmt(datetime.now(UTC) + timedelta(days=3))
    actions.set_expiry(n.ex, "alpha", soon)
    [e] = entries(n, "expiry")
    assert e["expires"] == soon
    warned = actions.expiry_warnings(n.ex)
    assert [(w["name"], w["expired"]) for w in warned] == [("alpha", False)]
    assert actions.expiry_warnings(n.ex, within=timedelta(days=1)) == []
    n.publish("alpha", "bravo", "before expiry")
    later = datetime.now(UTC) + timedelta(days=4)
    assert actions.expiry_warnings(n.ex, now=later)[0]["expired"]
    # once past, the node takes nothing new signed with the key
    n.ex.store.write(lambda sql: sql.execute(
        "UPDATE member_keys SET expires=? WHERE key_id=?",
        ("2000-01-01T00:00:00.000Z", n.node.members["alpha"].keyring.sign_key_id)))
    n.ex.store.write(lambda sql: sql.execute(
        "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
        "WHERE key='dir_version'"))
    with pytest.raises(PolicyDenied) as info:
        n.publish("alpha", "bravo", "after expiry")
    assert info.value.code == "keys.expired"


def console(n: Node, name: str) -> TestClient:
    import re

    c = TestClient(n.http.app, follow_redirects=False)
    m = re.search(r'name="csrf" value="([^"]+)"', c.get("/signin").text)
    assert m is not None
    r = c.post("/signin", data={"csrf": m.group(1), "token": n.node.members[name].token})
    assert r.status_code == 303
    return c


def taxii_names(n: Node, name: str) -> set[str]:
    h = n.h(name) | {"Accept": "application/taxii+json;version=2.1"}
    cols = n.http.get("/taxii2/api/collections/", headers=h).json()["collections"]
    out: set[str] = set()
    for c in cols:
        r = n.http.get(f"/taxii2/api/collections/{c['id']}/objects/", headers=h)
        if r.status_code == 200:
            out |= {str(o.get("name")) for o in r.json().get("objects", [])}
    return out
