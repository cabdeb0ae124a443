"""Taking access away on each store: revoked users and inactive members no longer
authenticate, their sessions end, the credential epoch moves, the change is logged;
and the operator's CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vigil.cli.main import cli
from vigil.errors import AuthError, Conflict, NotFound
from vigil.model import Actor
from vigil.signin import users as access
from vigil.testing import make_node


def test_revoke_and_deactivate(tmp_path: Path, store: str | None) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True}, store=store)
    ex = node.exchange()
    try:
        user, token = ex.add_user("alpha", "night")
        assert not access.is_admin(ex, Actor("alpha", user.id))
        access.set_admin(ex, "alpha", "night")
        actor = ex.authenticate(token)
        assert access.is_admin(ex, actor)
        sid, _ = ex.open_session(token, 3600)
        before = access.epoch(ex)
        assert access.revoke_user(ex, "alpha", "night") == user.id
        assert access.epoch(ex) != before
        with pytest.raises(AuthError):
            ex.authenticate(token)
        with pytest.raises(AuthError):
            ex.session(sid)
        with pytest.raises(Conflict):
            access.revoke_user(ex, "alpha", "night")
        with pytest.raises(NotFound):
            access.revoke_user(ex, "bravo", "night")  # a user of another member
        assert [(u.name, u.revoked) for u in access.users(ex, "alpha")] == [
            ("analyst", False), ("night", True)]
        def member_leaves() -> int:
            return int(ex.store.read(lambda sql: sql.execute(
                "SELECT count(*) FROM log_leaves WHERE kind='member'").fetchone()[0]))

        size = member_leaves()
        bravo = node.members["bravo"].token
        before = access.epoch(ex)
        access.set_member_active(ex, "bravo", False)
        assert access.epoch(ex) != before
        with pytest.raises(AuthError) as e:
            ex.authenticate(bravo)
        assert e.value.code == "auth.inactive"
        access.set_member_active(ex, "bravo", True)
        assert ex.authenticate(bravo).member == node.members["bravo"].id
        assert member_leaves() == size + 2  # deactivate, activate: logged
    finally:
        ex.store.close()


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
