"""Relay blindness: A -> R -> B with 1,000 sealed shares carrying canaries; R's
database, WAL, logs and temp files hold no canary, no member id, no share id."""

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
from vigil.errors import CryptoError, PolicyDenied
from vigil.relay.forward import Relay
from vigil.relay.hop import MIN_BUCKET, Hop, bucket_for, open_hop, seal_hop
from vigil.relay.receipts import ReceiptBatcher
from vigil.relay.tunnel import unpack_hops
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


def test_hop_sizes_and_binding() -> None:
    b_hop = X25519PrivateKey.generate()
    pub = b_hop.public_key().public_bytes_raw()
    assert bucket_for(1) == 4096 and bucket_for(4096) == 8192
    small, big = seal_hop(b"x" * 10, B, pub), seal_hop(b"x" * 4000, B, pub)
    assert len(small.blob) == len(big.blob) == 4096
    with pytest.raises(CryptoError):
        open_hop(small.blob, R, b_hop)  # sealed to B, not to R's name
    with pytest.raises(CryptoError):
        open_hop(small.blob, B, X25519PrivateKey.generate())


def test_relay_refuses_unknown_destination(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    relay = Relay(store, lambda: {B}, lambda hop: True)
    hop = seal_hop(b"batch", A, X25519PrivateKey.generate().public_key().public_bytes_raw())
    with pytest.raises(PolicyDenied):
        relay.accept(hop)
    store.close()


def test_receipts_released_only_on_ticks() -> None:
    now = [100.0]
    batcher = ReceiptBatcher(5.0, lambda: now[0])
    batcher.add(A, {"cursor": 1})
    now[0] = 103.0
    batcher.add(A, {"cursor": 2})
    assert batcher.due() == {}
    now[0] = 105.5
    assert batcher.due() == {A: [{"cursor": 1}, {"cursor": 2}]}
    assert batcher.due() == {}


def test_a_relayed_request_and_its_answer() -> None:
    from vigil.relay.tunnel import open_reply, open_request, seal_reply, seal_request

    a_hop, b_hop = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    a_pub, b_pub = (k.public_key().public_bytes_raw() for k in (a_hop, b_hop))
    hop, nonce = seal_request(A, B, b_pub, "POST", "/fed/v1/batch",
                              {"vigil-node": "origin=…", "content-type": "application/json",
                               "cookie": "never travels"}, b"x" * 5000)
    assert hop.dest == B and len(hop.blob) == 8192 and b"/fed/v1" not in hop.blob
    assert Hop.from_header(hop.header_value(), hop.blob) == hop
    with pytest.raises(CryptoError):
        open_request(hop.blob, A, a_hop)  # sealed to B
    inner = open_request(hop.blob, B, b_hop)
    assert (inner.origin, inner.method, inner.path, inner.body) == (
        A, "POST", "/fed/v1/batch", b"x" * 5000)
    assert inner.headers == {"vigil-node": "origin=…", "content-type": "application/json"}
    blob = seal_reply(inner, a_pub, 409, "application/json", b'{"error": {}}').blob
    assert len(blob) == MIN_BUCKET
    assert open_reply(blob, A, a_hop, nonce) == (409, "application/json", b'{"error": {}}')
    with pytest.raises(CryptoError) as other:  # the answer to another request
        open_reply(blob, A, a_hop, "another nonce")
    assert other.value.code == "relay.bad_hop"


def test_answers_travel_in_one_batch_and_reach_their_requests() -> None:
    from vigil.relay.replies import Replies
    from vigil.relay.tunnel import open_any_reply, pack_hops, seal_reply, seal_request
    from vigil.relay.tunnel import open_request as opened

    a_hop, b_hop = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    a_pub, b_pub = (k.public_key().public_bytes_raw() for k in (a_hop, b_hop))
    replies = Replies()
    sent = [seal_request(A, B, b_pub, "GET", f"/fed/v1/outbox?after={i}", {}, b"")
            for i in range(3)]
    waiting = [replies.expect(nonce) for _, nonce in sent]
    answers = [seal_reply(opened(h.blob, B, b_hop), a_pub, 200, "application/json",
                          b'{"n": %d}' % i) for i, (h, _) in enumerate(sent)]
    batch = unpack_hops(pack_hops(answers[::-1]))  # one body, any order
    assert [h.header() for h in batch] == [h.header() for h in answers[::-1]]
    for h in batch:
        nonce, status, ctype, body = open_any_reply(h.blob, A, a_hop)
        assert replies.deliver(nonce, (status, ctype, body))
    assert [w.result(0) for w in waiting] == [
        (200, "application/json", b'{"n": %d}' % i) for i in range(3)]
    assert not replies.deliver(sent[0][1], (200, "", b""))  # once only
    with pytest.raises(CryptoError):
        unpack_hops(pack_hops(answers)[:-1])  # a blob cut short


@pytest.mark.parametrize("value", [None, "", "dest=x", "dest=x,hop_id=y,expires=z,dest=x",
                                   "dest=x,hop_id=y,origin=z"])
def test_a_malformed_hop_header_is_refused(value: str | None) -> None:
    from vigil.errors import InputError

    with pytest.raises(InputError) as bad:
        Hop.from_header(value, b"")
    assert bad.value.code == "relay.bad_hop"


def test_the_relay_forgets_rows_past_a_hops_lifetime(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    relay = Relay(store, lambda: {B})
    pub = X25519PrivateKey.generate().public_key().public_bytes_raw()
    hop = seal_hop(b"batch", B, pub)
    assert relay.admit(hop) and not relay.admit(hop)  # a hop id is taken once
    assert relay.forget("2000-01-01T00:00:00.000Z") == 0 and len(relay.hops()) == 1
    assert relay.forget("9999-01-01T00:00:00.000Z") == 1 and relay.hops() == []
    store.close()
