"""The roster: changes need ceil(2n/3) node signatures; a node off it is refused."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.errors import CryptoError, PolicyDenied
from vigil.roster.roster import Roster
from vigil.roster.statements import statement, threshold
from vigil.storage import open_store


def _pub(k: Ed25519PrivateKey) -> bytes:
    return k.public_key().public_bytes_raw()


def test_threshold_admit_expel_and_refusal(tmp_path: Path) -> None:
    assert [threshold(n) for n in (1, 3, 4, 5, 6)] == [1, 2, 3, 4, 4]
    keys = {f"node--{uuid.uuid4()}": Ed25519PrivateKey.generate() for _ in range(4)}
    ids = list(keys)
    rosters = [Roster(open_store(f"sqlite:///{tmp_path / f'n{i}.db'}")) for i in range(2)]
    genesis = statement("genesis", 0, None, nodes={n: _pub(k) for n, k in keys.items()})
    for n, k in keys.items():
        genesis = genesis.cosign(n, k)
    for r in rosters:
        r.apply(genesis)
    assert rosters[0].threshold() == 3
    newcomer, new_key = f"node--{uuid.uuid4()}", Ed25519PrivateKey.generate()
    admit = statement("admit", 1, genesis.digest(), node=newcomer, key=_pub(new_key))
    # two of four is not enough; nor are signatures of nodes off the roster
    short = admit.cosign(ids[0], keys[ids[0]]).cosign(ids[1], keys[ids[1]])
    short = short.cosign(newcomer, new_key)
    for r in rosters:
        with pytest.raises(CryptoError) as e:
            r.apply(short)
        assert e.value.code == "roster.threshold"
        with pytest.raises(PolicyDenied) as e2:
            r.check_node(newcomer, _pub(new_key))
        assert e2.value.code == "fed.not_on_roster"
    full = short.cosign(ids[2], keys[ids[2]])
    rosters[0].apply(full)
    rosters[0].check_node(newcomer, _pub(new_key))
    # the other node learns it from a heartbeat head
    assert rosters[1].observe(rosters[0].head()) == "ahead"
    rosters[1].check_node(newcomer, _pub(new_key))
    with pytest.raises(PolicyDenied):
        rosters[1].check_node(newcomer, _pub(Ed25519PrivateKey.generate()))
    # expel ids[3]: 4 of 5 signatures needed
    expel = statement("expel", 2, full.digest(), node=ids[3])
    for n in ids[:3]:
        expel = expel.cosign(n, keys[n])
    expel = expel.cosign(newcomer, new_key)
    rosters[1].apply(expel)
    with pytest.raises(PolicyDenied):
        rosters[1].check_node(ids[3], _pub(keys[ids[3]]))
    assert rosters[0].observe(rosters[1].head()) == "ahead"
    with pytest.raises(PolicyDenied):
        rosters[0].check_node(ids[3])
    # a competing statement for seq 2, validly signed, is a roster fork
    other = statement("expel", 2, full.digest(), node=ids[2])
    for n in (ids[0], ids[1], ids[3], newcomer):
        other = other.cosign(n, keys.get(n, new_key))
    assert rosters[0].observe(other.to_json()) == "fork"
    assert rosters[0].forks
    # the roster is kept: a fresh process reads the same
    again = Roster(rosters[0].store)
    assert again.nodes == rosters[0].nodes
    for r in rosters:
        r.store.close()


def test_rekey_pins_the_peers_new_key(tmp_path: Path) -> None:
    """A rekey statement with the threshold replaces the key this node pinned for the
    peer: its log checkpoints verify with the new key, and the old key is refused."""
    from tests.federation.nodes import make_fed_node

    from vigil.crypto.keys import key_id
    from vigil.federation import peers
    from vigil.federation.descriptor import descriptor
    from vigil.federation.trust import TrustService
    from vigil.roster.statements import SignedStatement

    a, b = make_fed_node(tmp_path, "athens", {}), make_fed_node(tmp_path, "berlin", {})
    ea, eb = a.node.exchange(), b.node.exchange()
    try:
        signed = descriptor(eb, b.server.settings)
        peers.add(ea, b.url, signed["descriptor"]["pin"], signed=signed)
        old = eb.node_key_raw
        keys = {ea.node_id: ea.node_key, eb.node_id: eb.node_key}
        genesis: SignedStatement = statement(
            "genesis", 0, None, nodes={n: k.public_key().public_bytes_raw()
                                       for n, k in keys.items()})
        for n, k in keys.items():
            genesis = genesis.cosign(n, k)
        trust = TrustService(ea)
        trust.roster.apply(genesis)
        origin = eb.log.origin
        assert trust.known_log(origin) == (origin, old)
        new = Ed25519PrivateKey.generate()
        rekey = statement("rekey", 1, genesis.digest(), node=eb.node_id, key=_pub(new))
        with pytest.raises(CryptoError):  # one of the two signatures needed
            trust.roster.apply(rekey.cosign(eb.node_id, eb.node_key))
        assert peers.peer(ea.store, "berlin").key == old
        for n, k in keys.items():
            rekey = rekey.cosign(n, k)
        assert trust.roster.observe(rekey.to_json()) == "ahead"
        pinned = peers.peer(ea.store, "berlin")
        assert pinned.key == _pub(new) and pinned.pin == key_id("ed25519", _pub(new))
        trust.refresh_peers()
        assert trust.known_log(origin) == (origin, _pub(new))
        trust.roster.check_node(eb.node_id, _pub(new))
        with pytest.raises(PolicyDenied):
            trust.roster.check_node(eb.node_id, old)
        trust.uninstall()
    finally:
        ea.store.close()
        eb.store.close()
