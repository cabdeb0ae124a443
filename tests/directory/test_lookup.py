"""Witnessed directory lookups: an answer needs k cosignatures and proves the member's keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.directory.homes import MEMBER, Home, register
from tests.federation.trust.conftest import Node

from vigil.crypto.keys import generate_sign_key, sign_public_raw
from vigil.directory.answers import answer_lookup
from vigil.directory.entries import next_entry, sign_entry
from vigil.directory.lookup import verify_lookup
from vigil.errors import CryptoError, NotFound


def test_lookup_needs_k_cosignatures_and_proves_the_keys(trio: Callable[..., list[Node]]
                                                         ) -> None:
    nodes = trio(5)
    home = Home(nodes[0], nodes[1:])
    sk, _, _ = register(home)
    with pytest.raises(NotFound) as e:
        answer_lookup(home.dir, home.collector, MEMBER, home.k)
    assert e.value.code == "dir.not_witnessed"
    home.witness()
    answer = answer_lookup(home.dir, home.collector, MEMBER, home.k)
    keys = verify_lookup(answer, home.node.id, home.dir.public_raw, home.witnesses, home.k)
    assert keys.sign_key == sign_public_raw(sk)
    # rotate, signed by the old key: the lookup shows the new key once witnessed
    new = generate_sign_key(False)
    state = home.dir.keys(MEMBER)
    home.dir.append(sign_entry(next_entry(state, "rotate", MEMBER, home.node.id, sign_key=new),
                               sk, home.node.key))
    home.witness()
    answer = answer_lookup(home.dir, home.collector, MEMBER, home.k)
    keys = verify_lookup(answer, home.node.id, home.dir.public_raw, home.witnesses, home.k)
    assert keys.sign_key == sign_public_raw(new)
    # fewer cosignatures than k, a swapped key, a bad proof: refused
    only_one = {n: home.witnesses[n] for n in list(home.witnesses)[:1]}
    with pytest.raises(CryptoError) as e2:
        verify_lookup(answer, home.node.id, home.dir.public_raw, only_one, home.k)
    assert e2.value.code == "dir.bad_lookup"
    swapped = dict(answer, entries=[dict(x) for x in answer["entries"]])
    forged = dict(swapped["entries"][1]["entry"])
    forged["entry"] = dict(forged["entry"], sign_key=answer["entries"][0]["entry"]["entry"]
                           ["sign_key"])
    swapped["entries"][1] = dict(swapped["entries"][1], entry=forged)
    with pytest.raises(CryptoError):
        verify_lookup(swapped, home.node.id, home.dir.public_raw, home.witnesses, home.k)
