"""The chain rules of directory entries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.directory.homes import MEMBER, Home, register
from tests.federation.trust.conftest import Node

from vigil.crypto.keys import generate_sign_key
from vigil.directory.entries import next_entry, sign_entry
from vigil.errors import CryptoError


def test_chain_rules_refuse_a_rotation_not_signed_by_the_old_key(
        trio: Callable[..., list[Node]]) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    register(home)
    thief = generate_sign_key(False)
    entry = next_entry(home.dir.keys(MEMBER), "rotate", MEMBER, home.node.id, sign_key=thief)
    with pytest.raises(CryptoError) as e:
        home.dir.append(sign_entry(entry, thief, home.node.key))
    assert e.value.code == "dir.bad_entry"
    assert home.dir.size() == 1
