"""Scoped, expiring tokens on each store: the scope and expiry kept with the token's
hash, listing and rotation, and `vigil user add --scope --expires` (`vigil user
tokens|rotate` and `vigil audit`: tests/cli/test_tokens.py)."""

from __future__ import annotations

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
