"""The operator's commands for taking access away, on the node's own store: `vigil user
admin|list|revoke` and `vigil member deactivate|activate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil.cli.main import cli
from vigil.errors import AuthError
from vigil.testing import make_node


def test_cli_revoke_and_deactivate(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    base = ["--data", str(node.data)]
    run = CliRunner()
    res = run.invoke(cli, [*base, "user", "add", "alpha", "night"])
    assert res.exit_code == 0, res.output
    token = res.output.split("token ")[1].split()[0]
    assert run.invoke(cli, [*base, "user", "admin", "alpha", "night"]).exit_code == 0
    res = run.invoke(cli, [*base, "user", "list", "alpha"])
    assert [(u["name"], u["admin"]) for u in json.loads(res.output)] == [
        ("analyst", False), ("night", True)]
    res = run.invoke(cli, [*base, "user", "revoke", "alpha", "night"])
    assert res.exit_code == 0 and "revoked user night" in res.output
    ex = node.exchange()
    try:
        with pytest.raises(AuthError):
            ex.authenticate(token)
        res = run.invoke(cli, [*base, "member", "deactivate", "alpha"])
        assert res.exit_code == 0 and "deactivated" in res.output
        with pytest.raises(AuthError):
            ex.authenticate(node.members["alpha"].token)
        assert run.invoke(cli, [*base, "member", "activate", "alpha"]).exit_code == 0
        ex.authenticate(node.members["alpha"].token)
    finally:
        ex.store.close()
