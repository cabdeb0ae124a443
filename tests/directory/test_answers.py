"""The home node's answers to directory lookups and to its members' monitors: only what a
checkpoint with k cosignatures holds."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.directory.homes import MEMBER, Home, register
from tests.federation.trust.conftest import Node

from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keys import generate_sign_key
from vigil.directory.answers import answer_lookup, answer_range
from vigil.directory.entries import next_entry, sign_entry
from vigil.errors import NotFound
from vigil.log.checkpoint import parse_checkpoint


def test_nothing_is_answered_before_it_is_witnessed(trio: Callable[..., list[Node]]
                                                    ) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    with pytest.raises(NotFound) as unknown:
        answer_lookup(home.dir, home.collector, MEMBER, home.k)
    assert unknown.value.code == "dir.unknown_member"
    with pytest.raises(NotFound) as empty:
        answer_range(home.dir, home.collector, 0, home.k)
    assert empty.value.code == "dir.not_witnessed"
    register(home)
    with pytest.raises(NotFound) as waiting:  # registered, not yet cosigned by k
        answer_lookup(home.dir, home.collector, MEMBER, home.k)
    assert waiting.value.code == "dir.not_witnessed"


def test_answers_hold_what_the_cosigned_checkpoint_holds(trio: Callable[..., list[Node]]
                                                         ) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    sk, _, _ = register(home)
    home.witness()
    # a rotation logged after the cosigned checkpoint: in no answer yet
    home.dir.append(sign_entry(next_entry(home.dir.keys(MEMBER), "rotate", MEMBER,
                                          home.node.id, sign_key=generate_sign_key(False)),
                               sk, home.node.key))
    got = answer_lookup(home.dir, home.collector, MEMBER, home.k)
    assert (got["member"], got["home"]) == (MEMBER, home.node.id)
    size = parse_checkpoint(got["checkpoint"])[0].size
    assert [e["index"] for e in got["entries"]] == [0] and size >= 1
    assert got["entries"][0]["entry"]["entry"]["member"] == MEMBER
    leaves = answer_range(home.dir, home.collector, 0, home.k)
    assert leaves["checkpoint"] == got["checkpoint"] and len(leaves["entries"]) == size
    assert [b64u_decode(x) for x in leaves["entries"]] == [
        e.data() for _, e in home.dir.entries(0, size)]
    assert answer_range(home.dir, home.collector, size, home.k)["entries"] == []
    with pytest.raises(NotFound):  # by a witness that did not cosign
        answer_lookup(home.dir, home.collector, MEMBER, home.k, by="not-a-witness")
