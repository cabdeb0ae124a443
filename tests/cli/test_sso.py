"""`vigil sso add|list|remove` (the OpenID providers the console trusts, secrets kept out of
the output) and `vigil member set --require-webauthn` on the node's own store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import four_member_exchange

from vigil.cli.main import cli
from vigil.node.exchange import Exchange
from vigil.signin import passkeys, sso
from vigil.testing import TestNode

ISSUER = "https://idp.alpha.example"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[TestNode, Exchange]]:
    node, ex = four_member_exchange(tmp_path / "node")
    yield node, ex
    ex.store.close()


def test_cli_adds_lists_and_removes_a_provider(tmp_path: Path,
                                               node: tuple[TestNode, Exchange]) -> None:
    n, _ = node
    secret = tmp_path / "secret"
    secret.write_text("the client secret\n")
    run = CliRunner()
    base = ["--data", str(n.data), "sso"]
    r = run.invoke(cli, [*base, "add", ISSUER, "--client-id", "vigil", "--client-secret-file",
                         str(secret), "--member-claim", "org", "--user-claim", "email",
                         "--member", "alpha", "--member", "bravo"])
    assert r.exit_code == 0, r.output
    listed = json.loads(run.invoke(cli, [*base, "list"]).output)
    assert listed == [{"issuer": ISSUER, "client_id": "vigil", "member_claim": "org",
                       "user_claim": "email", "scopes": sso.DEFAULT_SCOPES,
                       "members": sorted([n.members["alpha"].id, n.members["bravo"].id])}]
    assert "the client secret" not in r.output
    assert run.invoke(cli, [*base, "remove", ISSUER]).exit_code == 0
    assert json.loads(run.invoke(cli, [*base, "list"]).output) == []


def test_cli_member_set_require_webauthn(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    run = CliRunner()
    r = run.invoke(cli, ["--data", str(n.data), "member", "set", "alpha",
                         "--require-webauthn"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["require_webauthn"] is True
    assert passkeys.required(ex, n.members["alpha"].id)
    r = run.invoke(cli, ["--data", str(n.data), "member", "set", "alpha",
                         "--no-require-webauthn"])
    assert json.loads(r.output)["require_webauthn"] is False
