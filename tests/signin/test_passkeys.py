"""Passkey policy, ceremonies used once, and keys only their own user can remove (the
browser ceremonies themselves are tests/console/test_key_pages.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import four_member_exchange

from vigil import clock
from vigil.errors import AuthError, NotFound
from vigil.node.exchange import Exchange
from vigil.signin import passkeys
from vigil.testing import TestNode


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[TestNode, Exchange]]:
    node, ex = four_member_exchange(tmp_path / "node")
    yield node, ex
    ex.store.close()


def test_member_policy_and_needed(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    alpha = ex.authenticate(n.members["alpha"].token)
    assert not passkeys.needed(ex, alpha)
    passkeys.set_required(ex, "alpha", True)
    assert passkeys.needed(ex, alpha)
    assert not passkeys.needed(ex, ex.authenticate(n.members["bravo"].token))
    passkeys.set_required(ex, "alpha", False)
    assert not passkeys.needed(ex, alpha)
    # a registered key is asked for without any policy
    assert alpha.user is not None
    ex.store.write(lambda sql: sql.execute(
        "INSERT INTO passkeys(id, user_id, name, public_key, sign_count, created) "
        "VALUES(?,?,?,?,?,?)", ("k1", alpha.user, "k", b"x", 0, clock.now())))
    assert passkeys.needed(ex, alpha)
    # only its own user removes it
    bravo = ex.authenticate(n.members["bravo"].token)
    assert bravo.user is not None
    with pytest.raises(NotFound):
        passkeys.remove(ex, bravo.user, "k1")
    passkeys.remove(ex, alpha.user, "k1")
    assert passkeys.keys(ex, alpha.user) == []


def test_a_step_is_used_once_and_a_registration_step_signs_nobody_in(
        node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    alpha = ex.authenticate(n.members["alpha"].token)
    rp = passkeys.Relying("http://localhost:8000", "localhost", "vigil")
    step = passkeys.open_step(ex, alpha.user, "register")
    with pytest.raises(AuthError) as exc:
        passkeys.authenticate(ex, step, {"id": "k1"}, rp)
    assert exc.value.code == "auth.key_step"
    with pytest.raises(AuthError) as exc:  # used up by the refused attempt
        passkeys.authenticate(ex, step, {"id": "k1"}, rp)
    assert exc.value.code == "auth.key_step"
    # a step bound to alpha cannot register a key for bravo
    bravo = ex.authenticate(n.members["bravo"].token)
    assert bravo.user is not None
    step = passkeys.open_step(ex, alpha.user, "register")
    with pytest.raises(AuthError):
        passkeys.register(ex, step, bravo.user, {}, "k", rp)
    # a first factor's step registers only where the sign-in page allows it
    assert alpha.user is not None
    step = passkeys.open_step(ex, alpha.user, "token")
    with pytest.raises(AuthError) as exc:
        passkeys.register(ex, step, alpha.user, {}, "k", rp)
    assert exc.value.code == "auth.key_step"


def test_the_relying_party_comes_from_public_url_only() -> None:
    rp = passkeys.relying_party("https://Console.Example:443/vigil/", "n1")
    assert (rp.origin, rp.rp_id, rp.name) == ("https://console.example", "console.example",
                                              "vigil n1")
    rp = passkeys.relying_party("http://localhost:8000", "n1")
    assert (rp.origin, rp.rp_id) == ("http://localhost:8000", "localhost")
    assert passkeys.relying_party("http://[::1]:80/", "n1").origin == "http://[::1]"
    for bad in ("", "  ", "console.example", "ftp://console.example", "https://",
                "http://localhost:99999"):
        with pytest.raises(passkeys.NoPublicUrl) as exc:
            passkeys.relying_party(bad, "n1")
        assert (exc.value.code, exc.value.status) == ("passkey.no_public_url", 503)
