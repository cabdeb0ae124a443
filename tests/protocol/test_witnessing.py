"""``verify_signed_before``: a share signed by a key revoked from index ``after`` of its
home's log is taken only with a proof, in that log, that the home logged it below
``after``: the home's signature, k cosignatures of pinned witnesses, the inclusion of
the very entry the client rebuilt, and only then the index. Real logs and witnesses of
three nodes in one process; every lie below is one a serving node or an origin can
tell, and each is refused by its own check."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.directory.homes import Home as DirHome
from tests.directory.homes import register
from tests.federation.trust.conftest import Node, introduce, make_trust_node, trio  # noqa: F401

from vigil.crypto.encoding import b64u
from vigil.errors import CryptoError
from vigil.log.checkpoint import sign_checkpoint
from vigil.log.entries import entry_bytes
from vigil.protocol.witnessing import (
    quorum,
    verify_signed_before,
    verify_witnessed,
    witness_name,
)
from vigil.storage.base import Sql


def _entry(tag: str) -> dict[str, Any]:
    return {"v": 1, "kind": "test", "n": f"{tag}-{uuid.uuid4().hex}"}


class Home:
    """A home node's log with its entries, witnessed by the other nodes."""

    def __init__(self, nodes: list[Node]) -> None:
        self.node, self.peers = nodes[0], nodes[1:]
        self.entries: list[bytes] = []
        self.col = self.node.collector()

    def log(self, *tags: str) -> list[int]:
        """Append one entry per tag; their indexes."""
        out = []
        for tag in tags:
            entry = _entry(tag)

            def add(sql: Sql, entry: dict[str, Any] = entry) -> int:
                return self.node.log.append(sql, entry).index
            out.append(self.node.store.write(add))
            self.entries.append(entry_bytes(entry))
        return out

    def witness(self, peers: list[Node] | None = None) -> None:
        self.col.round([p.peer() for p in (self.peers if peers is None else peers)])

    def answer(self, index: int, k: int = 1) -> dict[str, Any]:
        """What an honest node answers (``origin_proof``): the newest checkpoint of the
        home's log with k cosignatures and the entry's inclusion proof in it."""
        log_ = self.node.log
        note = self.col.cosigned(log_.origin, k)
        assert note is not None
        size = int(note.split("\n")[1])
        return {"origin_index": index, "origin_proof": {
            "origin": log_.origin, "index": index, "witnessed": True, "checkpoint": note,
            "size": size, "proof": [b64u(h) for h in log_.inclusion(index, size)]}}

    @property
    def id(self) -> str:
        return self.node.id


def witnesses(nodes: list[Node]) -> dict[str, bytes]:
    return {n.witness.name: n.witness.public_raw for n in nodes}


def check(home: Home, answer: dict[str, Any], entry: bytes, after: int, *,
          pinned: dict[str, bytes], k: int = 1, key: bytes | None = None) -> int:
    return verify_signed_before(answer, entry, home.id,
                                key if key is not None else home.node.log.public_raw,
                                pinned, k, after).index


def refused(code: str, fn: Callable[[], object]) -> None:
    with pytest.raises(CryptoError) as e:
        fn()
    assert e.value.code == code, e.value.message


@pytest.fixture
def three(tmp_path: Path) -> Iterator[tuple[Home, list[Node], dict[str, bytes]]]:
    nodes = [make_trust_node(tmp_path / f"n{i}") for i in range(3)]
    introduce(nodes)
    yield Home(nodes), nodes, witnesses(nodes)
    for node in nodes:
        node.store.close()


def test_a_share_proven_before_the_point_is_taken_and_one_at_it_refused(
        three: tuple[Home, list[Node], dict[str, bytes]]) -> None:
    home, _, pinned = three
    home.log("a", "b", "c")
    before, at = home.log("before", "at")  # the key is revoked from `at` on
    home.log("d")
    home.witness()
    assert check(home, home.answer(before), home.entries[before], at, pinned=pinned) \
        == before
    refused("keys.revoked",
            lambda: check(home, home.answer(at), home.entries[at], at, pinned=pinned))
    refused("keys.revoked",
            lambda: check(home, home.answer(at + 1), home.entries[at + 1], at,
                          pinned=pinned))


def test_the_nodes_origin_index_counts_for_nothing(
        three: tuple[Home, list[Node], dict[str, bytes]]) -> None:
    home, _, pinned = three
    home.log("a", "b", "c", "late")
    home.witness()
    answer = home.answer(3)
    answer["origin_index"] = 0  # the node says "logged first"; the proof says index 3
    refused("keys.revoked", lambda: check(home, answer, home.entries[3], 2, pinned=pinned))
    # the proof's own index moved before the point: the entry is not there
    answer["origin_proof"]["index"] = 1
    refused("log.bad_inclusion",
            lambda: check(home, answer, home.entries[3], 2, pinned=pinned))


def test_a_real_proof_of_another_share_proves_nothing(
        three: tuple[Home, list[Node], dict[str, bytes]]) -> None:
    home, _, pinned = three
    early, _late = home.log("early", "late")
    home.witness()
    # the node proves `early` (a real, cosigned proof) for the share whose entry is `late`
    refused("log.bad_inclusion",
            lambda: check(home, home.answer(early), home.entries[1], 5, pinned=pinned))


def test_a_checkpoint_without_k_cosignatures_is_refused(
        three: tuple[Home, list[Node], dict[str, bytes]]) -> None:
    home, nodes, pinned = three
    (i,) = home.log("x")
    home.witness(nodes[1:2])  # one witness only
    answer = home.answer(i)
    assert check(home, answer, home.entries[i], 5, pinned=pinned, k=1) == i
    refused("witness.quorum",
            lambda: check(home, answer, home.entries[i], 5, pinned=pinned, k=2))
    # the cosignature lines taken off: the home's signature alone
    bare = dict(answer["origin_proof"])
    bare["checkpoint"] = home.node.log.checkpoint(int(bare["size"]))[1]
    refused("witness.quorum",
            lambda: check(home, {"origin_proof": bare}, home.entries[i], 5, pinned=pinned))
    # a witness the member did not pin does not count
    unpinned = {n: v for n, v in pinned.items() if n != nodes[1].witness.name}
    refused("witness.quorum",
            lambda: check(home, answer, home.entries[i], 5, pinned=unpinned))


def test_a_checkpoint_not_signed_by_the_home_is_refused(
        three: tuple[Home, list[Node], dict[str, bytes]]) -> None:
    home, nodes, pinned = three
    (i,) = home.log("x")
    home.witness()
    answer = home.answer(i)
    # the serving node signs a checkpoint of the home's log with its own key
    forged = sign_checkpoint(home.node.log.checkpoint(int(answer["origin_proof"]["size"]))[0],
                             home.node.log.key_name, nodes[1].key)
    answer["origin_proof"]["checkpoint"] = forged
    with pytest.raises(CryptoError) as e:
        check(home, answer, home.entries[i], 5, pinned=pinned)
    assert e.value.code in ("log.unsigned", "log.bad_signature")
    # the right note, checked with another key than the home's
    refused("log.unsigned", lambda: check(home, home.answer(i), home.entries[i], 5,
                                          pinned=pinned, key=nodes[1].log.public_raw))


def test_a_proof_in_another_log_than_the_homes_is_refused(
        three: tuple[Home, list[Node], dict[str, bytes]]) -> None:
    home, nodes, pinned = three
    other = Home([nodes[1], nodes[0], nodes[2]])  # the same entry logged at another node
    (j,) = other.log("moved")
    other.witness()
    entry = other.entries[j]
    # valid in its own log (index 0 < after), but `after` counts the home's log
    assert verify_signed_before(other.answer(j), entry, other.id,
                                other.node.log.public_raw, pinned, 1, 5).index == j
    refused("keys.other_log",
            lambda: check(home, other.answer(j), entry, 5, pinned=pinned))


def test_no_proof_yet_is_not_a_proof(
        three: tuple[Home, list[Node], dict[str, bytes]]) -> None:
    home, _, pinned = three
    (i,) = home.log("x")
    refused("keys.order_unproven",
            lambda: check(home, {"origin_index": 0}, home.entries[i], 5, pinned=pinned))
    pending = {"origin_proof": {"origin": home.node.log.origin, "index": i,
                                "witnessed": False, "checkpoint": None, "size": 0,
                                "proof": []}}
    refused("keys.order_unproven",
            lambda: check(home, pending, home.entries[i], 5, pinned=pinned))


def test_items_arriving_out_of_order_are_decided_by_their_proven_index(
        three: tuple[Home, list[Node], dict[str, bytes]]) -> None:
    """The home logs s1, then the revocation point, then s2; a member receives s2
    first, and s1 only later, under a checkpoint made after s2's: each is decided by
    its own proven place, never by when it came."""
    home, _, pinned = three
    (s1,) = home.log("s1")
    home.witness()
    proof_s1_early = home.answer(s1)  # the checkpoint of one entry
    after = home.log("revocation point")[0]
    (s2,) = home.log("s2")
    home.log("more", "entries")
    home.witness()
    refused("keys.revoked",
            lambda: check(home, home.answer(s2), home.entries[s2], after, pinned=pinned))
    assert check(home, home.answer(s1), home.entries[s1], after, pinned=pinned) == s1
    assert check(home, proof_s1_early, home.entries[s1], after, pinned=pinned) == s1
    # s2 with the proof of s1's place (the early checkpoint, which s2 is not in)
    refused("log.bad_inclusion",
            lambda: check(home, proof_s1_early, home.entries[s2], after, pinned=pinned))


def test_quorum_for_a_roster() -> None:
    assert [quorum(n) for n in range(0, 10)] == [0, 0, 1, 1, 2, 2, 3, 3, 3, 3]
    assert witness_name("node--1", "vigil.example") == "vigil.example/witness/node--1"


def test_a_note_holds_with_k_cosignatures_of_other_nodes(trio: Callable[..., list[Node]]  # noqa: F811
                                                         ) -> None:
    nodes = trio(5)
    home = DirHome(nodes[0], nodes[1:])
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
