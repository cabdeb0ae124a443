"""The relay forwards hops it may not open: it sees only the destination, the size bucket
and the time; it refuses unknown destinations and forgets hops past their lifetime."""

from __future__ import annotations

import logging
import tempfile
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from vigil.crypto.canonical import canonical
from vigil.crypto.sign import sign, verify
from vigil.errors import PolicyDenied
from vigil.relay.forward import Relay
from vigil.relay.hop import MIN_BUCKET, Hop, open_hop, seal_hop
from vigil.storage import open_store

A, R, B = (f"node--{uuid.uuid4()}" for _ in range(3))


def _batches(n_shares: int, per: int, key: Ed25519PrivateKey) -> tuple[list[bytes], set[str]]:
    secrets: set[str] = set()
    out = []
    for start in range(0, n_shares, per):
        items = []
        for _ in range(per):
            share, member = f"share--{uuid.uuid4()}", f"identity--{uuid.uuid4()}"
            canary = f"CANARY-{uuid.uuid4().hex}"
            secrets |= {share, member, canary}
            items.append({"kind": "share", "id": share, "originator": member,
                          "payload": canary * 3})
        batch = {"v": 1, "kind": "fed-batch", "origin": A, "dest": B, "from": start + 1,
                 "to": start + per, "items": items}
        out.append(canonical({"batch": batch,
                              "signature": sign("vigil/fed-batch/v1", batch, key).hex()}))
    return out, secrets


def test_relay_sees_only_destination_bucket_and_time(tmp_path: Path) -> None:
    a_key = Ed25519PrivateKey.generate()
    b_hop = X25519PrivateKey.generate()
    b_hop_pub = b_hop.public_key().public_bytes_raw()
    rdir = tmp_path / "relay"
    (rdir / "tmp").mkdir(parents=True)
    store = open_store(f"sqlite:///{rdir / 'vigil.db'}")
    handler = logging.FileHandler(rdir / "relay.log")
    logging.getLogger("vigil").addHandler(handler)
    logging.getLogger("vigil").setLevel(logging.DEBUG)
    old_tmp = tempfile.tempdir
    tempfile.tempdir = str(rdir / "tmp")
    received: list[bytes] = []

    def to_b(hop: Hop) -> bool:
        received.append(open_hop(hop.blob, B, b_hop))
        return True
    try:
        relay = Relay(store, lambda: {B}, to_b)
        batches, secrets = _batches(1000, 50, a_key)
        buckets = set()
        for raw in batches:
            hop = seal_hop(raw, B, b_hop_pub)
            buckets.add(len(hop.blob))
            relay.accept(hop)
            relay.accept(hop)  # a resend is taken once
        assert relay.pump() == len(batches)
    finally:
        tempfile.tempdir = old_tmp
        logging.getLogger("vigil").removeHandler(handler)
        handler.close()
    # B got every batch, whole and verifiable
    assert received == batches
    import json
    for raw in received:
        obj = json.loads(raw)
        verify("vigil/fed-batch/v1", obj["batch"], bytes.fromhex(obj["signature"]),
               a_key.public_key().public_bytes_raw())
    assert all(b >= MIN_BUCKET and b & (b - 1) == 0 for b in buckets)
    rows = relay.hops()
    assert len(rows) == len(batches) and {r[1] for r in rows} == {B}
    store.close()
    # the scan: every file the relay wrote
    files = [p for p in rdir.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") or p.name == "vigil.db" for p in files)
    assert (rdir / "relay.log").stat().st_size > 0
    blob = b"".join(p.read_bytes() for p in files)
    hits = [s for s in secrets if s.encode() in blob]
    assert hits == []
    assert A.encode() not in blob  # nor who sent


def test_relay_refuses_unknown_destination(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    relay = Relay(store, lambda: {B}, lambda hop: True)
    hop = seal_hop(b"batch", A, X25519PrivateKey.generate().public_key().public_bytes_raw())
    with pytest.raises(PolicyDenied):
        relay.accept(hop)
    store.close()


def test_the_relay_forgets_rows_past_a_hops_lifetime(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    relay = Relay(store, lambda: {B})
    pub = X25519PrivateKey.generate().public_key().public_bytes_raw()
    hop = seal_hop(b"batch", B, pub)
    assert relay.admit(hop) and not relay.admit(hop)  # a hop id is taken once
    assert relay.forget("2000-01-01T00:00:00.000Z") == 0 and len(relay.hops()) == 1
    assert relay.forget("9999-01-01T00:00:00.000Z") == 1 and relay.hops() == []
    store.close()
