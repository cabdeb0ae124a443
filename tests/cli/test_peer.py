"""`vigil peer` on a node's data directory: descriptor, list, show, status, remove."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests.federation.pairs import network, publish

from vigil.cli.main import cli


def test_peer_commands(tmp_path: Path) -> None:
    with network(tmp_path, {"athens": {"alpha": True}, "berlin": {"bravo": True}}) as (a, _):
        publish(a, "alpha", ["member:bravo@berlin"])  # queued for berlin, not sent
    run = CliRunner()
    env = {"VIGIL_FED_NAME": "athens", "VIGIL_KEYRING_PASSPHRASE": "test-passphrase"}
    data = str(a.node.data)

    def vigil(*args: str) -> str:
        r = run.invoke(cli, ["--data", data, *args], env=env, catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.output

    assert "pin      ed25519:" in vigil("peer", "descriptor")
    assert "berlin" in vigil("peer", "list")
    assert json.loads(vigil("peer", "show", "berlin"))["name"] == "berlin"
    assert json.loads(vigil("peer", "show", "berlin"))["via"] is None
    for args in (["peer", "add", "--pin", "ed25519:x"],  # neither URL nor --via
                 ["peer", "add", "http://127.0.0.1:9", "--via", "berlin", "--pin", "x"]):
        r = run.invoke(cli, ["--data", data, *args], env=env)
        assert getattr(r.exception, "code", None) == "input.invalid", r.output
    st = json.loads(vigil("peer", "status", "--json"))
    (link,) = st["peers"]
    assert link["peer"] == "berlin" and link["sent"]["backlog"] == 1
    assert "backlog 1" in vigil("peer", "status")
    assert "removed berlin" in vigil("peer", "remove", "berlin")
    assert "berlin" not in vigil("peer", "list")
