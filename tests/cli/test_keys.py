"""`vigil key …` end to end against a node (its REST API in process): a member rotates
(the old keyring kept, its held shares re-wrapped on its side, old shares still
verified), the operator schedules an expiry and the warnings follow it, and a member
revoked on compromise recovers with the recovery key it registered before."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from vigil.bus.local import LocalBus
from vigil.cli import main as cli_mod
from vigil.client import Client
from vigil.crypto.keyring import load_keyring
from vigil.errors import VigilError
from vigil.node.exchange import Exchange
from vigil.testing import PASSPHRASE, TestNode, make_node, stix
from vigil.web import create_app


@dataclass
class Node:
    node: TestNode
    ex: Exchange
    http: TestClient
    tmp: Path

    def cli(self, *args: str, member: str | None = None, keyring: Path | None = None
            ) -> Result:
        remote: list[str] = []
        if member is not None:
            m = self.node.members[member]
            remote = ["--node", "http://testserver", "--token", m.token,
                      "--keyring", str(keyring or m.keyring_path)]
        return CliRunner().invoke(cli_mod.cli, ["--data", str(self.node.data), *args,
                                                *remote])

    def sdk(self, name: str, keyring: Any = None) -> Client:
        m = self.node.members[name]
        return Client("http://testserver", m.token, keyring or m.keyring,
                      transport=self.http._transport,
                      log_state=self.tmp / f"{name}-{uuid.uuid4().hex[:6]}.json")


@pytest.fixture(params=[True], ids=["hybrid"])
def n(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
      ) -> Iterator[Node]:
    """A node whose members' keys are hybrid (or classical, param False)."""
    node = make_node(tmp_path / "node", {"alpha": False, "bravo": False},
                     hybrid=bool(request.param))
    ex = node.exchange()
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    monkeypatch.setenv("VIGIL_KEYRING_PASSPHRASE", PASSPHRASE)
    try:
        with TestClient(app) as http:
            real = httpx.Client

            def in_process(*a: Any, **kw: Any) -> httpx.Client:  # the CLI's client
                kw["transport"] = http._transport
                return real(*a, **kw)
            monkeypatch.setattr(httpx, "Client", in_process)
            yield Node(node, ex, http, tmp_path)
    finally:
        ex.store.close()


def bundle(name: str) -> bytes:
    return stix.bundle(stix.malware(name))


def ok(run: Result) -> str:
    assert run.exit_code == 0, (run.output, run.exception)
    return run.output


def test_key_rotate_rewraps_held_shares_and_old_shares_still_verify(n: Node) -> None:
    alpha = n.node.members["alpha"]
    to_alpha = n.sdk("bravo").publish(bundle("sealed to the old key"), tlp="amber",
                                      to=["member:alpha"])["id"]
    signed_old = n.sdk("alpha").publish(bundle("signed by the old key"), tlp="amber",
                                        to=["member:bravo"])["id"]
    old_sign = alpha.keyring.sign_key_id
    out = ok(n.cli("key", "rotate", member="alpha"))
    assert "re-wrapped 1 held share(s)" in out
    new = load_keyring(alpha.keyring_path, PASSPHRASE)
    assert new.sign_key_id != old_sign and f"rotated: {new.sign_key_id}" in out
    assert alpha.keyring_path.with_name(alpha.keyring_path.name + ".retired-1").exists()
    # the node lists the old key as retired, the new one as current
    keys = {k["id"]: k for k in json.loads(ok(n.cli("key", "list", "alpha")))}
    assert keys[old_sign]["retired"] and keys[new.sign_key_id]["current"]
    # the held share opens with the new key alone (re-wrapped on the member's side)
    got = n.sdk("alpha", new).get(to_alpha)
    assert got.bundle is not None and b"sealed to the old key" in got.bundle
    # the old share still verifies; a new one is signed by the new key
    assert f"{old_sign}), verified" in n.sdk("bravo").get(signed_old).signer
    after = n.sdk("alpha", new).publish(bundle("after"), tlp="amber", to=["member:bravo"])
    assert f"{new.sign_key_id}), verified" in n.sdk("bravo").get(after["id"]).signer
    shown = ok(n.cli("show", signed_old, member="bravo"))
    assert f"{old_sign}), verified" in shown


def test_key_expire_and_warnings(n: Node) -> None:
    assert ok(n.cli("key", "warnings")) == ""
    ok(n.cli("key", "expire", "alpha", "3d"))
    warned = n.cli("key", "warnings")
    assert warned.exit_code == 1
    kid = n.node.members["alpha"].keyring.sign_key_id
    assert f"warning: member:alpha key {kid} expires" in warned.output
    assert "bravo" not in warned.output
    assert ok(n.cli("key", "warnings", "--within", "1d")) == ""


def test_key_recovery_then_revoke_and_recover(n: Node) -> None:
    recovery = n.tmp / "alpha.recovery"
    out = ok(n.cli("key", "recovery", str(recovery), member="alpha"))
    assert "registered" in out and recovery.exists()
    before = n.sdk("alpha").publish(bundle("before"), tlp="amber", to=["member:bravo"])["id"]
    revoked = json.loads(ok(n.cli("key", "revoke", "alpha", "--compromised")))
    assert revoked["revoked"] is not None
    with pytest.raises(VigilError) as refused:  # the revoked key signs nothing more
        n.sdk("alpha").publish(bundle("refused"), tlp="amber", to=["member:bravo"])
    assert refused.value.code == "keys.revoked"
    fresh = n.tmp / "alpha-new.keyring"
    out = ok(n.cli("key", "recover", str(recovery), member="alpha", keyring=fresh))
    new = load_keyring(fresh, PASSPHRASE)
    assert f"recovered: {new.sign_key_id}" in out
    sid = n.sdk("alpha", new).publish(bundle("after"), tlp="amber", to=["member:bravo"])["id"]
    assert "verified" in n.sdk("bravo").get(sid).signer
    assert n.sdk("bravo").get(before).signer.endswith("signed before revocation")


@pytest.mark.parametrize("n", [False], ids=["classical"], indirect=True)
def test_key_rotate_from_the_classical_to_the_hybrid_suites(n: Node) -> None:
    """A member moves to the hybrid suites: its classical shares still verify, the
    share sealed to its classical key is re-wrapped to its ML-KEM key, and new shares
    to it are sealed hybrid."""
    alpha = n.node.members["alpha"]
    assert alpha.keyring.sign_key_id.startswith("ed25519:")
    to_alpha = n.sdk("bravo").publish(bundle("sealed classically"), tlp="amber",
                                      to=["member:alpha"])["id"]
    classical = n.sdk("alpha").publish(bundle("signed classically"), tlp="amber",
                                       to=["member:bravo"])["id"]
    out = ok(n.cli("key", "rotate", "--hybrid", member="alpha"))
    assert "re-wrapped 1 held share(s)" in out
    new = load_keyring(alpha.keyring_path, PASSPHRASE)
    assert new.sign_key_id.startswith("ed25519+mldsa65:")
    assert new.enc_key_id.startswith("mlkem768x25519:")
    got = n.sdk("alpha", new).get(to_alpha)
    assert got.bundle is not None and b"sealed classically" in got.bundle
    assert n.http.get(f"/api/v1/shares/{to_alpha}/rewrap", headers={
        "Authorization": f"Bearer {alpha.token}"}).json()["key"] == new.enc_key_id
    assert f"{alpha.keyring.sign_key_id}), verified" in n.sdk("bravo").get(classical).signer
    # bravo (classical) seals to alpha's hybrid key; alpha signs in the hybrid suite
    later = n.sdk("bravo").publish(bundle("to the new key"), tlp="amber",
                                   to=["member:alpha"])["id"]
    env, _ = n.sdk("alpha", new).envelope(later)
    assert [w.key for w in env.wraps if w.member == alpha.id] == [new.enc_key_id]
    assert n.sdk("alpha", new).get(later).bundle is not None
    mine = n.sdk("alpha", new).publish(bundle("hybrid"), tlp="amber", to=["member:bravo"])
    assert f"{new.sign_key_id}), verified" in n.sdk("bravo").get(mine["id"]).signer


def test_operator_key_commands(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    base = ["--data", str(node.data), "key"]
    run = CliRunner()

    def vigil(*args: str, code: int = 0) -> str:
        r = run.invoke(cli_mod.cli, [*base, *args])
        assert r.exit_code == code, (r.output, r.stderr, r.exception)
        return str(r.stdout)

    assert vigil("warnings") == ""
    said = vigil("expire", "alpha", "10d")
    assert said.startswith("member:alpha's keys expire at ")
    at = said.rsplit(" ", 1)[1].strip()
    r = run.invoke(cli_mod.cli, [*base, "warnings", "--within", "30d"])
    assert r.exit_code == 1 and "warning: member:alpha key" in r.stderr
    assert "bravo" not in r.stderr
    assert vigil("warnings", "--within", "5d") == ""
    keys = json.loads(vigil("list", "alpha"))
    assert {k["use"] for k in keys} == {"sign", "enc"}
    assert all(k["expires"] == at for k in keys)
    assert not any("log" in k or "public" in k for k in keys)
    rec = json.loads(vigil("revoke", "bravo", "--compromised"))
    assert rec["id"] == node.members["bravo"].keyring.sign_key_id and rec["revoked"]
    assert all(k["revoked"] for k in json.loads(vigil("list", "bravo")))
    assert not any(k["revoked"] for k in json.loads(vigil("list", "alpha")))


def test_member_commands_need_the_keyring(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli_mod.cli, ["--data", str(tmp_path), "key", "rotate", "--token", "t"])
    assert getattr(r.exception, "code", None) == "client.no_keyring"
