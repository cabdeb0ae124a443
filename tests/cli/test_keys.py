"""`vigil key …` on the node's own store (the operator): a member's key expiry scheduled,
warned of (exit status 1) and listed, and its keys revoked on compromise; a member
command without the member's keyring is refused before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from vigil.cli.main import cli
from vigil.testing import make_node


def test_operator_key_commands(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    base = ["--data", str(node.data), "key"]
    run = CliRunner()

    def vigil(*args: str, code: int = 0) -> str:
        r = run.invoke(cli, [*base, *args])
        assert r.exit_code == code, (r.output, r.stderr, r.exception)
        return str(r.stdout)

    assert vigil("warnings") == ""
    said = vigil("expire", "alpha", "10d")
    assert said.startswith("member:alpha's keys expire at ")
    at = said.rsplit(" ", 1)[1].strip()
    r = run.invoke(cli, [*base, "warnings", "--within", "30d"])
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
    r = CliRunner().invoke(cli, ["--data", str(tmp_path), "key", "rotate", "--token", "t"])
    assert getattr(r.exception, "code", None) == "client.no_keyring"
