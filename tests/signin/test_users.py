"""Taking access away on each store: revoked users and inactive members no longer
authenticate, their sessions end, the credential epoch moves, the change is logged;
a user found by a token or its first characters (the operator's commands:
tests/cli/test_access.py)."""

from __future__ import annotations

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


def test_revoke_by_the_token_or_its_prefix(tmp_path: Path) -> None:
    # an operator who has only a leaked token's first characters (logs, audit events)
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        user, token = ex.add_user("alpha", "night")
        day, day_token = ex.add_user("alpha", "day")
        with pytest.raises(NotFound):  # another member's user, by its prefix
            access.revoke_user(ex, "bravo", token[:12])
        assert access.revoke_user(ex, "alpha", token[:12]) == user.id
        with pytest.raises(AuthError):
            ex.authenticate(token)
        ex.authenticate(day_token)  # the member's other users keep their tokens
        assert access.revoke_user(ex, "alpha", day_token) == day.id  # the whole token
        with pytest.raises(NotFound):
            access.revoke_user(ex, "alpha", "vgl_")  # shorter than a prefix: no match
        ex.store.write(lambda sql: sql.execute(
            "UPDATE users SET token_prefix=? WHERE name IN ('night', 'day')",
            (token[:12],)))
        with pytest.raises(Conflict) as twice:
            access.revoke_user(ex, "alpha", token[:12])
        assert twice.value.code == "user.ambiguous"
    finally:
        ex.store.close()
    res = CliRunner().invoke(cli, ["--data", str(node.data), "user", "revoke", "alpha",
                                   node.members["alpha"].token[:12]])
    assert res.exit_code == 0, res.output
