"""The node's OpenID providers and their mapping of claims to members and users."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import four_member_exchange

from vigil.errors import AuthError, Conflict, InputError
from vigil.node.exchange import Exchange
from vigil.signin import audit, sso
from vigil.signin.users import revoke_user
from vigil.testing import TestNode

ISSUER = "https://idp.alpha.example"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[TestNode, Exchange]]:
    node, ex = four_member_exchange(tmp_path / "node")
    yield node, ex
    ex.store.close()


def add(ex: Exchange, issuer: str = ISSUER, members: tuple[str, ...] = ("alpha",)
        ) -> sso.Provider:
    return sso.add_provider(ex, issuer, client_id="vigil", client_secret="s",
                            member_claim="org", user_claim="preferred_username",
                            members=members)


def test_mapping_names_only_users_of_the_members_given(
        node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    p = add(ex)
    actor = sso.actor_for_claims(ex, p, {"org": "alpha", "preferred_username": "analyst"})
    assert actor.member == n.members["alpha"].id and actor.user is not None
    refused = [
        {"org": "bravo", "preferred_username": "analyst"},  # a member it may not speak for
        {"org": "alpha", "preferred_username": "nobody"},  # no such user
        {"org": "alpha"},  # no user claim
        {"preferred_username": "analyst"},  # no member claim
        {"org": ["alpha"], "preferred_username": "analyst"},  # not a name
    ]
    for claims in refused:
        with pytest.raises(AuthError) as exc:
            sso.actor_for_claims(ex, p, claims)
        assert exc.value.code == "auth.sso_unmapped"
    events = audit.events(ex, n.members["alpha"].id)
    assert any(e.event == "signin.failed" and "nobody" in e.detail for e in events)
    assert not audit.events(ex, n.members["bravo"].id)  # bravo's log is not written
    # a revoked user is refused too
    revoke_user(ex, "alpha", "analyst")
    with pytest.raises(AuthError):
        sso.actor_for_claims(ex, p, {"org": "alpha", "preferred_username": "analyst"})


def test_provider_settings_are_checked(node: tuple[TestNode, Exchange]) -> None:
    _, ex = node
    for issuer in ("http://idp.example", "ftp://idp.example", "https://", "idp.example"):
        with pytest.raises(InputError):
            add(ex, issuer)
    with pytest.raises(InputError):
        add(ex, members=())
    p = add(ex, "http://127.0.0.1:9/")  # plain http only on loopback; the slash is dropped
    assert p.issuer == "http://127.0.0.1:9"
    with pytest.raises(Conflict):
        add(ex, "http://127.0.0.1:9")
    assert sso.provider(ex, p.key) == p
    sso.remove_provider(ex, p.issuer)
    assert sso.providers(ex) == []


def test_a_pending_sign_in_is_used_once(node: tuple[TestNode, Exchange]) -> None:
    _, ex = node
    p = add(ex)
    state, pending = sso.begin(ex, p)
    assert sso.finish(ex, state) == pending
    for bad in (state, "", "another state"):
        with pytest.raises(AuthError) as exc:
            sso.finish(ex, bad)
        assert exc.value.code == "auth.sso_state"


def test_an_sso_session_keeps_its_id_token_until_sign_out(
        node: tuple[TestNode, Exchange]) -> None:
    _, ex = node
    sso.remember(ex, "session id", ISSUER, "id.token.here", 60)
    assert sso.forget(ex, "another session") is None
    assert sso.forget(ex, "session id") == (ISSUER, "id.token.here")
    assert sso.forget(ex, "session id") is None
