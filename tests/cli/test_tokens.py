"""The operator's token and certificate commands on the node's own store: `vigil user
tokens|rotate` (the old token refused at once, the new one with its scope), `vigil audit`
(without secrets) and `vigil user cert add|list|revoke`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.tls_pairs import make

from vigil import clock
from vigil.cli.main import cli
from vigil.crypto.pins import spki_pin
from vigil.errors import AuthError
from vigil.testing import make_node


def test_cli_scoped_tokens_rotation_and_audit(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    base = ["--data", str(node.data)]
    run = CliRunner()
    res = run.invoke(cli, [*base, "user", "add", "alpha", "bot", "--scope", "read",
                           "--expires", "90d"])
    assert res.exit_code == 0, res.output
    token = res.output.split("token ")[1].split()[0]
    res = run.invoke(cli, [*base, "user", "tokens", "alpha", "bot"])
    [row] = json.loads(res.output)
    assert (row["scope"], row["prefix"], row["revoked"]) == ("read", token[:12], False)
    assert row["expires"] > clock.now()
    res = run.invoke(cli, [*base, "user", "rotate", "alpha", "bot", "--scope", "publish"])
    assert res.exit_code == 0, res.output
    [fresh] = [line[6:] for line in res.output.splitlines() if line.startswith("token ")]
    ex = node.exchange()
    try:
        with pytest.raises(AuthError):
            ex.authenticate(token)
        assert ex.authenticate(fresh).scope == "publish"
    finally:
        ex.store.close()
    res = run.invoke(cli, [*base, "audit", "alpha"])
    assert [e["event"] for e in json.loads(res.output)] == ["token.created", "token.rotated"]
    assert token not in res.output and fresh not in res.output
    assert run.invoke(cli, [*base, "user", "add", "alpha", "x", "--scope", "root"]
                      ).exit_code != 0


def test_cli_cert_add_list_revoke(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    base = ["--data", str(node.data)]
    card = make(tmp_path, "card")
    run = CliRunner()
    res = run.invoke(cli, [*base, "user", "cert", "add", "alpha", "analyst", "--cert",
                           card.cert_file])
    assert res.exit_code == 0, res.output
    [row] = json.loads(run.invoke(cli, [*base, "user", "cert", "list", "alpha"]).output)
    assert (row["kind"], row["value"], row["revoked"]) == (
        "spki", spki_pin(card.cert), False)
    res = run.invoke(cli, [*base, "user", "cert", "revoke", "alpha", row["id"]])
    assert res.exit_code == 0, res.output
    [row] = json.loads(run.invoke(cli, [*base, "user", "cert", "list", "alpha"]).output)
    assert row["revoked"]
