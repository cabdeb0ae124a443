"""Witnessed checkpoints: k for a roster, and a note that holds only with k cosignatures of
known witnesses of other nodes than the log's own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.directory.homes import Home, register
from tests.federation.trust.conftest import Node, trio  # noqa: F401

from vigil.errors import CryptoError
from vigil.protocol.witnessing import quorum, verify_witnessed, witness_name


def test_quorum_for_a_roster() -> None:
    assert [quorum(n) for n in range(0, 10)] == [0, 0, 1, 1, 2, 2, 3, 3, 3, 3]
    assert witness_name("node--1", "vigil.example") == "vigil.example/witness/node--1"


def test_a_note_holds_with_k_cosignatures_of_other_nodes(trio: Callable[..., list[Node]]  # noqa: F811
                                                         ) -> None:
    nodes = trio(5)
    home = Home(nodes[0], nodes[1:])
    register(home)
    home.witness()
    note = home.collector.cosigned(home.dir.origin, home.k)
    assert note is not None
    log_key = (home.dir.key_name, home.dir.public_raw)
    cp, found = verify_witnessed(note, log_key, home.witnesses, home.k,
                                 origin=home.dir.origin)
    assert cp.origin == home.dir.origin and len(found) >= home.k == 2
    with pytest.raises(CryptoError) as more:
        verify_witnessed(note, log_key, home.witnesses, len(found) + 1)
    assert more.value.code == "witness.quorum"
    with pytest.raises(CryptoError) as elsewhere:
        verify_witnessed(note, log_key, home.witnesses, 1, origin="another/log")
    assert elsewhere.value.code == "witness.quorum"
    few = dict(list(home.witnesses.items())[:1])
    with pytest.raises(CryptoError):
        verify_witnessed(note, log_key, few, 2)  # unknown witnesses do not count
    # the log's own node cosigns too: it is no witness of its own log
    home.node.known[home.dir.origin] = (home.dir.key_name, home.dir.public_raw)
    home.collector.round([home.node.peer()])
    with_own = home.collector.cosigned(home.dir.origin, 1, home.node.witness.name)
    assert with_own is not None
    own = {home.node.witness.name: home.node.witness.public_raw}
    verify_witnessed(with_own, log_key, {**few, **own}, 1)
    with pytest.raises(CryptoError):
        verify_witnessed(with_own, log_key, {**few, **own}, 2)
