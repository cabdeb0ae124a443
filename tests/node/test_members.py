"""Members of a node and their users: made with fresh keys, found by id or name,
authenticated by token, signed in to the console by a session."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil import clock
from vigil.errors import AuthError, Conflict, InputError, NotFound
from vigil.model import MemberKind
from vigil.node.exchange import Exchange
from vigil.node.members import member_identity
from vigil.node.tokens import hash_token
from vigil.testing import PASSPHRASE, TestNode


def test_a_member_is_found_by_id_or_name_and_is_a_stix_identity(
        four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    bravo = node.members["bravo"].id
    assert ex.member(bravo).name == ex.member("bravo").name == ex.member("member:bravo").name
    with pytest.raises(NotFound) as e:
        ex.member("nobody")
    assert e.value.code == "member.not_found"
    ident = member_identity(ex.member("bravo"))
    assert ident["type"] == "identity" and ident["id"] == bravo
    assert ident["x_vigil_name"] == "bravo" and ident["sectors"] == ["government-national"]
    assert ident["x_vigil_sign_key"] == ex.member("bravo").sign_key_id


def test_a_new_member_needs_a_free_name_and_a_country(four: tuple[TestNode, Exchange],
                                                      tmp_path: Path) -> None:
    _, ex = four
    path = tmp_path / "echo.keyring"
    m, kr = ex.add_member("echo", country="lv", kind=MemberKind.AGENCY, keyring_path=path,
                          passphrase=PASSPHRASE, hybrid=False)
    assert m.country == "LV" and kr.member_id == m.id and path.exists()
    assert ex.member("echo").sign_key_id == kr.sign_key_id and m.id not in ex.held
    with pytest.raises(Conflict) as c:
        ex.add_member("echo", country="LV", kind=MemberKind.AGENCY,
                      keyring_path=tmp_path / "again.keyring", passphrase=PASSPHRASE)
    assert c.value.code == "member.exists"
    with pytest.raises(InputError) as i:
        ex.add_member("foxtrot", country="Latvia!", kind=MemberKind.AGENCY,
                      keyring_path=tmp_path / "f.keyring", passphrase=PASSPHRASE)
    assert i.value.code == "input.country"
    assert not (tmp_path / "again.keyring").exists() and not (tmp_path / "f.keyring").exists()


def test_new_members_get_the_hybrid_suites_by_default(four: tuple[TestNode, Exchange],
                                                       tmp_path: Path) -> None:
    """`Exchange.add_member` and `vigil member add` make hybrid keys (ed25519+mldsa65,
    mlkem768x25519) unless the classical suites are asked for."""
    from click.testing import CliRunner

    from vigil.cli import main as cli_mod

    node, ex = four
    m, _ = ex.add_member("golf", country="LV", kind=MemberKind.AGENCY,
                         keyring_path=tmp_path / "golf.keyring", passphrase=PASSPHRASE)
    assert m.sign_key_id.startswith("ed25519+mldsa65:")
    assert m.enc_key_id.startswith("mlkem768x25519:")
    for name, extra, algs in (("hotel", [], "(ed25519+mldsa65, mlkem768x25519)"),
                              ("india", ["--classical"], "(ed25519, x25519)")):
        run = CliRunner(env={"VIGIL_KEYRING_PASSPHRASE": PASSPHRASE}).invoke(
            cli_mod.cli, ["--data", str(node.data), "member", "add", name, "--country", "EE",
                          "--kind", "cert", "--keyring", str(tmp_path / f"{name}.keyring"),
                          *extra], catch_exceptions=False)
        assert run.exit_code == 0, run.output
        assert algs in run.output
        assert ex.member(name).sign_key_id.startswith(algs[1:].split(",")[0] + ":")


def test_a_token_authenticates_its_user_until_it_expires(
        four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    user, token = ex.add_user("bravo", "reader", "read")
    actor = ex.authenticate(token)
    assert (actor.member, actor.user, actor.scope) == (node.members["bravo"].id, user.id,
                                                       "read")
    _, old = ex.add_user("bravo", "old", "read", expires="2000-01-01T00:00:00.000Z")
    for bad in (old, token + "x", ""):
        with pytest.raises(AuthError) as e:
            ex.authenticate(bad)
        assert e.value.code == "auth.bad_token"
    with pytest.raises(InputError):
        ex.add_user("bravo", "Bad Name")


def test_a_console_session_lives_until_it_is_closed(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    sid, csrf = ex.open_session(node.members["alpha"].token, 60)
    actor, got = ex.session(sid)
    assert actor.member == node.members["alpha"].id and got == csrf
    assert ex.store.get_session(sid, clock.now()) is None  # only its hash is stored
    assert ex.store.get_session(hash_token(sid), clock.now()) is not None
    ex.close_session(sid)
    for bad in (sid, "", "forged"):
        with pytest.raises(AuthError) as e:
            ex.session(bad)
        assert e.value.code == "auth.bad_session"
