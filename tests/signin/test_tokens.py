"""Scoped, expiring tokens on each store: the scope and expiry kept with the token's
hash, listing and rotation, and the operator's commands (`vigil user add --scope
--expires`, `vigil user tokens|rotate`, `vigil audit`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil import clock
from vigil.cli.main import cli
from vigil.errors import AuthError, Conflict, InputError
from vigil.signin import audit, tokens
from vigil.signin import users as access
from vigil.testing import make_node


def test_scope_and_expiry_are_kept_and_enforced(tmp_path: Path, store: str | None) -> None:
    node = make_node(tmp_path / "node", {"alpha": True}, store=store)
    ex = node.exchange()
    try:
        _, reader = tokens.issue(ex, "alpha", "reader", "read", clock.parse_expiry("90d"))
        _, gone = tokens.issue(ex, "alpha", "gone", "publish", clock.parse_expiry("2001-01-01"))
        assert ex.authenticate(reader).scope == "read"
        assert ex.authenticate(node.members["alpha"].token).scope == "admin"
        with pytest.raises(AuthError) as err:
            ex.authenticate(gone)
        assert err.value.code == "auth.bad_token"
        with pytest.raises(InputError):
            ex.add_user("alpha", "odd", "root")
        listed = {t.name: t for t in tokens.tokens(ex, "alpha")}
        assert listed["gone"].expired and not listed["reader"].expired
        assert listed["reader"].prefix == reader[:12]
        uid, fresh = tokens.rotate(ex, "alpha", "reader", scope="publish")
        with pytest.raises(AuthError):
            ex.authenticate(reader)
        actor = ex.authenticate(fresh)
        assert (actor.user, actor.scope) == (uid, "publish")
        assert tokens.tokens(ex, "alpha", "reader")[0].expires == listed["reader"].expires
        access.revoke_user(ex, "alpha", "reader")
        with pytest.raises(Conflict):
            tokens.rotate(ex, "alpha", "reader")
        kinds = [e.event for e in audit.events(ex, node.members["alpha"].id)]
        assert kinds == ["token.created", "token.created", "token.rotated", "token.revoked"]
    finally:
        ex.store.close()


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


def test_cli_user_add_without_scope_issues_read(tmp_path: Path) -> None:
    """As the API: a token made without --scope may only read."""
    node = make_node(tmp_path / "node", {"alpha": True})
    res = CliRunner().invoke(cli, ["--data", str(node.data), "user", "add", "alpha", "plain"])
    assert res.exit_code == 0, res.output
    assert "(scope read," in res.output
    token = res.output.split("token ")[1].split()[0]
    ex = node.exchange()
    try:
        assert ex.authenticate(token).scope == "read"
    finally:
        ex.store.close()
