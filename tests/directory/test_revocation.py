"""Revocation refused everywhere, and carried by heartbeats."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.directory.homes import MEMBER, Home, register
from tests.federation.trust.conftest import Node

from vigil.crypto.keys import enc_public_raw, generate_enc_key, generate_sign_key, sign_public_raw
from vigil.directory.answers import answer_lookup
from vigil.directory.entries import next_entry, sign_entry, sign_kid
from vigil.directory.lookup import verify_lookup
from vigil.directory.revocation import Revocations, revoke_at_home
from vigil.errors import PolicyDenied
from vigil.storage import keys as keys_sql


def test_revocation_refused_everywhere_also_late_and_out_of_order(
        trio: Callable[..., list[Node]]) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    sk, _, rk = register(home)
    kid = sign_kid(sign_public_raw(sk))
    revocation = sign_entry(next_entry(home.dir.keys(MEMBER), "revoke", MEMBER, home.node.id,
                                       by="recovery", after=10), rk, home.node.key)
    home.dir.append(revocation)
    assert home.dir.keys(MEMBER).sign_key is None
    early, late = Revocations(nodes[1].store), Revocations(nodes[2].store)
    home_keys = {home.node.id: home.dir.public_raw}
    # node 1 learns first (heartbeat head), then items arrive out of order
    assert early.learn_all([revocation.to_json()], home_keys) == 0
    for idx in (12, 3, 10, 9):
        def use(sql: Any, idx: int = idx) -> None:
            early.record_use(sql, f"share--{idx}", home.node.id, kid, idx)
        if idx >= 10:
            with pytest.raises(PolicyDenied) as e:
                early.store.write(use)
            assert e.value.code == "fed.revoked_key"
        else:
            early.store.write(use)
    # node 2 delivered everything before it learnt: learning marks exactly those past i
    for idx in (12, 3, 10, 9):
        def deliver(sql: Any, idx: int = idx) -> None:
            late.record_use(sql, f"share--{idx}", home.node.id, kid, idx)
        late.store.write(deliver)
    assert late.learn_all(early.heads(), home_keys) == 2
    assert late.marked_shares() == ["share--10", "share--12"]
    # ... among the revoked shares every read surface refuses
    assert sorted(late.store.read(keys_sql.marked_share_ids)) == ["share--10", "share--12"]
    with pytest.raises(PolicyDenied):
        late.check(kid, 11)
    late.check(kid, 9)
    # a revocation not countersigned by the home node is ignored
    stranger = Revocations(nodes[0].store)
    assert stranger.learn_all([revocation.to_json()],
                              {home.node.id: Ed25519PrivateKey.generate().public_key()
                               .public_bytes_raw()}) == 0
    assert stranger.point(kid) is None


def test_the_home_revokes_alone_in_its_directory(trio: Callable[..., list[Node]]) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    sk, _, _ = register(home)
    kid = sign_kid(sign_public_raw(sk))
    # not the member's current key, or a member with no chain: nothing to revoke
    other = sign_kid(sign_public_raw(generate_sign_key(False)))
    assert home.dir.write(lambda sql: revoke_at_home(home.dir, sql, MEMBER, 7, home.node.key,
                                                     other)) is None
    assert home.dir.write(lambda sql: revoke_at_home(
        home.dir, sql, f"identity--{uuid.uuid4()}", 7, home.node.key)) is None
    idx = home.dir.write(lambda sql: revoke_at_home(home.dir, sql, MEMBER, 7, home.node.key,
                                                    kid))
    assert idx == 1 and home.dir.entries()[1][1].entry["by"] == "node"
    assert Revocations(home.node.store).point(kid) == 7  # taken here at once
    # revoked already: no second entry
    assert home.dir.write(lambda sql: revoke_at_home(home.dir, sql, MEMBER, 9,
                                                     home.node.key)) is None
    assert home.dir.size() == 2
    # the witnessed lookup proves it to anyone
    home.witness()
    keys = verify_lookup(answer_lookup(home.dir, home.collector, MEMBER, home.k),
                         home.node.id, home.dir.public_raw, home.witnesses, home.k, MEMBER)
    assert keys.revoked == {kid: 7} and keys.sign_key is None


def test_heartbeats_carry_every_revocation_in_turn(trio: Callable[..., list[Node]]) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    revs = Revocations(nodes[0].store)
    members = [f"identity--{uuid.uuid4()}" for _ in range(10)]
    for m in members:
        sk = generate_sign_key(False)
        home.dir.append(sign_entry(next_entry(None, "register", m, home.node.id, sign_key=sk,
                                              enc_key=enc_public_raw(generate_enc_key(False))),
                                   sk, home.node.key))
        signed = sign_entry(next_entry(home.dir.keys(m), "revoke", m, home.node.id, by="node",
                                       after=1), None, home.node.key)
        home.dir.append(signed)
        revs.learn(signed, home.dir.public_raw)
    assert revs.count() == 10
    seen: set[str] = set()
    for turn in range(3):
        heads = revs.heads(turn=turn)
        assert len(heads) == 6
        seen |= {h["entry"]["member"] for h in heads}
    assert seen == set(members)
