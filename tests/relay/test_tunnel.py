"""Requests and answers tunnelled through a relay: sealed to their destination, padded,
batched, and matched to their request."""

from __future__ import annotations

import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from vigil.errors import CryptoError
from vigil.relay.hop import MIN_BUCKET, Hop
from vigil.relay.tunnel import unpack_hops

A, R, B = (f"node--{uuid.uuid4()}" for _ in range(3))


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
