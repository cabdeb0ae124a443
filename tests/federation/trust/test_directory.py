"""The key directory: witnessed lookups, the owner's monitor, revocation everywhere."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.crypto.keys import enc_public_raw, generate_enc_key, generate_sign_key, sign_public_raw
from vigil.directory.answers import answer_lookup, answer_range
from vigil.directory.entries import next_entry, sign_entry, sign_kid
from vigil.directory.log import DirectoryLog
from vigil.directory.lookup import verify_lookup
from vigil.directory.monitor import OwnerMonitor
from vigil.directory.revocation import Revocations, revoke_at_home
from vigil.errors import CryptoError, NotFound, PolicyDenied
from vigil.protocol.witnessing import quorum
from vigil.storage import keys as keys_sql
from vigil.witness.collector import Collector

from .conftest import Node

MEMBER = "identity--6f1c0a52-3e0b-4c39-9a57-0d6bb1d3f7a1"


class Home:
    """Node ``home`` with its directory log witnessed by ``peers``."""

    def __init__(self, home: Node, peers: list[Node]) -> None:
        self.node, self.peers = home, peers
        self.dir = DirectoryLog(home.store, home.id, home.key)
        for p in peers:
            p.known[self.dir.origin] = (self.dir.key_name, self.dir.public_raw)
        self.collector = Collector(home.store, [self.dir])
        self.k = quorum(len(peers) + 1)
        self.witnesses = {p.witness.name: p.witness.public_raw for p in peers}

    def witness(self) -> None:
        self.collector.round([p.peer() for p in self.peers])


def _register(home: Home, monitor: OwnerMonitor | None = None) -> tuple[Any, Any, Any]:
    sk, ek, rk = generate_sign_key(False), generate_enc_key(False), generate_sign_key(False)
    entry = next_entry(None, "register", MEMBER, home.node.id, sign_key=sk,
                       enc_key=enc_public_raw(ek), recovery_key=sign_public_raw(rk))
    if monitor:
        monitor.signed(entry)
    home.dir.append(sign_entry(entry, sk, home.node.key))
    return sk, ek, rk


def test_lookup_needs_k_cosignatures_and_proves_the_keys(trio: Callable[..., list[Node]]
                                                         ) -> None:
    nodes = trio(5)
    home = Home(nodes[0], nodes[1:])
    sk, _, _ = _register(home)
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


def test_chain_rules_refuse_a_rotation_not_signed_by_the_old_key(
        trio: Callable[..., list[Node]]) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    _register(home)
    thief = generate_sign_key(False)
    entry = next_entry(home.dir.keys(MEMBER), "rotate", MEMBER, home.node.id, sign_key=thief)
    with pytest.raises(CryptoError) as e:
        home.dir.append(sign_entry(entry, thief, home.node.key))
    assert e.value.code == "dir.bad_entry"
    assert home.dir.size() == 1


def test_owner_monitor_alarms_on_an_entry_it_did_not_make(
        trio: Callable[..., list[Node]]) -> None:
    nodes = trio(5)
    home = Home(nodes[0], nodes[1:])
    monitor = OwnerMonitor(MEMBER, home.node.id, home.dir.public_raw, home.witnesses, home.k)

    def fetch(start: int) -> dict[str, Any]:
        return answer_range(home.dir, home.collector, start, home.k)

    sk, _, _ = _register(home, monitor)
    home.witness()
    assert monitor.poll(fetch) == []
    # the member rotates itself: no alarm
    mine = next_entry(home.dir.keys(MEMBER), "rotate", MEMBER, home.node.id,
                      sign_key=generate_sign_key(False))
    monitor.signed(mine)
    home.dir.append(sign_entry(mine, sk, home.node.key))
    home.witness()
    assert monitor.poll(fetch) == []
    # the home node slips in a key of its own for the member
    rogue_key = generate_sign_key(False)
    rogue = next_entry(home.dir.keys(MEMBER), "rotate", MEMBER, home.node.id,
                       sign_key=rogue_key)
    home.dir.append_unchecked(sign_entry(rogue, rogue_key, home.node.key))
    home.witness()
    [alarm] = monitor.poll(fetch)
    assert alarm.kind == "rogue_entry" and alarm.entry is not None
    assert alarm.entry["entry"]["sign_key"] == rogue["sign_key"]
    # and a lookup elsewhere does not accept the rogue key
    answer = answer_lookup(home.dir, home.collector, MEMBER, home.k)
    with pytest.raises(CryptoError):
        verify_lookup(answer, home.node.id, home.dir.public_raw, home.witnesses, home.k)


def test_monitor_sees_a_log_rewritten_under_it(trio: Callable[..., list[Node]]) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    monitor = OwnerMonitor(MEMBER, home.node.id, home.dir.public_raw, home.witnesses, home.k)
    _register(home, monitor)
    home.witness()
    monitor.poll(lambda s: answer_range(home.dir, home.collector, s, home.k))
    # a fetch answer whose leaves do not hash to the witnessed root
    home.dir.append(sign_entry(next_entry(home.dir.keys(MEMBER), "revoke", MEMBER,
                                          home.node.id, by="node", after=5),
                               None, home.node.key))
    home.witness()
    good = answer_range(home.dir, home.collector, 1, home.k)
    bad = dict(good, entries=[good["entries"][0][:-4] + "AAAA"])
    [alarm] = monitor.poll(lambda s: bad)
    assert alarm.kind == "fork"


def test_revocation_refused_everywhere_also_late_and_out_of_order(
        trio: Callable[..., list[Node]]) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    sk, _, rk = _register(home)
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
    sk, _, _ = _register(home)
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
