"""The hybrid suites across peers: a peer that strips the post-quantum half of a
member's share -- the composite signature cut to its Ed25519 half, or the ML-KEM wraps
swapped for X25519 ones -- is refused at intake, and a node (or member, or channel) rule
that requires the hybrid suites refuses a classical share from a peer as it refuses
one published at home (``fed.suite_required``, quarantined)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.federation.pairs import (
    Node,
    batch,
    deliver,
    inbox_ids,
    peer,
    publish,
    quarantined,
    resign,
    sync,
)

from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import ALG_ED25519, ALG_X25519, key_id
from vigil.crypto.seal import SUITE_HYBRID, wrap_key
from vigil.features import open_exchange
from vigil.federation import receiver
from vigil.policy.suites import SuiteRule
from vigil.testing import make_node

MLDSA_SIG = 3309  # the ML-DSA-65 half of a composite signature comes first
MLDSA_PUB = 1952


def make(root: Path, name: str, members: dict[str, bool], hybrid: bool) -> Node:
    node = make_node(root / name, members, hybrid=hybrid)
    node.settings = node.settings.with_overrides(fed_name=name, correlation_processes=0,
                                                 public_url=f"http://{name}.invalid:8470")
    return Node(name, node, open_exchange(node.settings))


@pytest.fixture(params=[True], ids=["hybrid"])
def pair(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Node, Node]]:
    """athens (hybrid members) and berlin (hybrid members, or classical ones with the
    ``classical`` param), peered, each having taken the other's members."""
    a = make(tmp_path, "athens", {"alpha": True}, hybrid=True)
    b = make(tmp_path, "berlin", {"bravo": True}, hybrid=bool(request.param))
    try:
        peer(a, b)
        deliver(a, b)
        deliver(b, a)
        assert a.node.members["alpha"].keyring.sign_key_id.startswith("ed25519+mldsa65:")
        yield a, b
    finally:
        a.close()
        b.close()


def test_a_peer_that_strips_the_composite_signature_is_refused(
        pair: tuple[Node, Node]) -> None:
    a, b = pair
    ed_half = a.node.members["alpha"].keyring.sign_public[MLDSA_PUB:]
    for relabel in (False, True):
        sid = publish(a, "alpha", ["member:bravo@berlin"])
        sync(a, b)
        data = batch(a, b)
        e = data["bodies"][-1]["envelope"]
        assert e["header"]["id"] == sid
        e["signature"] = b64u(b64u_decode(e["signature"])[MLDSA_SIG:])
        if relabel:  # and the header names the Ed25519 half as the signing key
            e["header"]["key"] = key_id(ALG_ED25519, ed_half)
        got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
        assert got.quarantined == [data["batch"]["to"]]
        assert quarantined(b)[0]["code"] == (
            "fed.unknown_key" if relabel else "fed.bad_item")  # 64 bytes: no composite
        assert b.ex.store.get_share(sid) is None
        assert sid not in inbox_ids(b, "bravo")
    # an honest one is taken
    sid = publish(a, "alpha", ["member:bravo@berlin"])
    deliver(a, b)
    assert sid in inbox_ids(b, "bravo")


def test_a_peer_that_swaps_the_mlkem_wraps_is_refused(pair: tuple[Node, Node]) -> None:
    """A sealed share from athens' hybrid member to berlin's hybrid member: the peer
    replaces the recipient's ML-KEM wrap with an X25519 one to the X25519 half of the
    same key; the member's signature over the wraps no longer holds."""
    a, b = pair
    sid = publish(a, "alpha", ["member:bravo@berlin"])
    sync(a, b)
    data = batch(a, b)
    lie = copy.deepcopy(data)
    e = lie["bodies"][-1]["envelope"]
    assert e["header"]["payload"]["form"] == "sealed"
    assert e["header"]["seal"]["suite"] == SUITE_HYBRID
    enc = b.node.members["bravo"].keyring.enc_private
    x_pub = enc.x25519.public_key().public_bytes_raw()
    w = wrap_key(sid, b"\x07" * 32, b.id("bravo"), key_id(ALG_X25519, x_pub), x_pub)
    e["wraps"] = [{**x, "key": w.key, "blob": b64u(w.blob)} if x["member"] == b.id("bravo")
                  else x for x in e["wraps"]]
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, lie))
    assert got.quarantined == [data["batch"]["to"]]
    assert quarantined(b)[0]["code"] == "fed.bad_originator_signature"
    assert b.ex.store.get_share(sid) is None


@pytest.mark.parametrize("pair", [False], ids=["classical"], indirect=True)
@pytest.mark.parametrize("rule", ["node", "member:alpha", "member:bravo@berlin"])
def test_a_rule_that_requires_hybrid_refuses_a_classical_share_from_a_peer(
        pair: tuple[Node, Node], rule: str) -> None:
    """athens requires the hybrid suites (for every share, or for those to or from a
    member); berlin's classical member's share to alpha is refused at intake, as it
    would be refused if published at athens. Without the rule it is taken."""
    a, b = pair
    a.ex.suite_rule = SuiteRule.parse(rule)
    refused = publish(b, "bravo", ["member:alpha@athens"])
    sync(b, a)
    data = batch(b, a)
    got = receiver.receive(a.ex, a.peers["berlin"], data)
    assert got.quarantined == [data["batch"]["to"]]
    assert quarantined(a)[0]["code"] == "fed.suite_required"
    assert a.ex.store.get_share(refused) is None
    a.ex.suite_rule = SuiteRule()
    taken = publish(b, "bravo", ["member:alpha@athens"])
    deliver(b, a)
    assert taken in inbox_ids(a, "alpha")
