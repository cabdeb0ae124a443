"""Signed node-to-node messages: a request's Vigil-Node header checked against the
request, the destination, the clock and the origin's key; batches signed over their
items' digests and refused when malformed; acks opened only with the right tag and key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.errors import AuthError, CryptoError, InputError
from vigil.federation import codec

KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes_raw()
OTHER = Ed25519PrivateKey.generate().public_key().public_bytes_raw()


def test_body_digests() -> None:
    body = {"b": [1, "é"], "a": {"z": None, "y": True}}
    want = codec.body_digest(body)
    assert want == codec.digest(b'{"a":{"y":true,"z":null},"b":[1,"\xc3\xa9"]}')
    assert codec.body_matches(body, want) and codec.body_matches({**body}, want)
    assert not codec.body_matches({**body, "c": 1}, want)
    assert codec.body_matches({"f": 1.5}, codec.body_digest({"f": 1.5}))


def test_a_signed_request_is_checked() -> None:
    body = b'{"x":1}'
    header = codec.sign_request(KEY, "post", "/fed/v1/batch", "node-a", "node-b", body)
    fields = codec.parse_request_header(header)
    assert (fields["origin"], fields["dest"]) == ("node-a", "node-b")
    codec.check_request(fields, "POST", "/fed/v1/batch", body, "node-b", PUB)

    def code(**over: object) -> str:
        args: dict[str, object] = {"fields": fields, "method": "POST", "path": "/fed/v1/batch",
                                   "body": body, "me": "node-b", "origin_key": PUB, **over}
        with pytest.raises(AuthError) as caught:
            codec.check_request(**args)  # type: ignore[arg-type]
        return caught.value.code

    assert code(me="node-c") == "fed.wrong_destination"
    assert code(body=b'{"x":2}') == "fed.bad_request_signature"
    assert code(path="/fed/v1/other") == "fed.bad_request_signature"
    assert code(origin_key=OTHER) == "fed.bad_request_signature"
    assert code(now=datetime.now(UTC) + timedelta(minutes=6)) == "fed.stale_request"
    for bad in (None, "", "origin=a,dest=b,at=c", "origin=a,dest=b,at=c,sig=d,sig=e",
                "origin=a,dest=b,at=c,sig=d,x=1"):
        with pytest.raises(AuthError):
            codec.parse_request_header(bad)


def test_batches() -> None:
    items = [(4, "share", {"id": "s1"}), (5, "recall", {"id": "r1"})]
    batch = codec.make_batch(KEY, "node-a", "node-b", items, "checkpoint note")
    head, sig, bodies = codec.parse_batch(orjson.dumps(batch))
    assert (head["from"], head["to"], bodies) == (4, 5, [{"id": "s1"}, {"id": "r1"}])
    assert head["items"][1] == {"dseq": 5, "kind": "recall",
                                "digest": codec.body_digest({"id": "r1"})}
    codec.verify_batch(head, sig, PUB)
    with pytest.raises(CryptoError) as caught:
        codec.verify_batch({**head, "dest": "node-c"}, sig, PUB)
    assert caught.value.code == "fed.bad_batch_signature"
    empty = codec.parse_batch(codec.make_batch(KEY, "a", "b", [], "cp"))[0]
    assert (empty["from"], empty["to"], empty["items"]) == (0, 0, [])

    def malformed(change: dict[str, object]) -> None:
        doc = orjson.loads(orjson.dumps(batch))
        doc["batch"].update(change)
        with pytest.raises(InputError) as caught:
            codec.parse_batch(doc)
        assert caught.value.code == "fed.bad_batch"

    malformed({"v": 2})
    malformed({"from": 3})  # dseqs not from `from`
    malformed({"to": 9})
    malformed({"from": True})
    malformed({"items": batch["batch"]["items"][:1]})  # a body without its item
    for raw in (b"[]", b"not json", orjson.dumps({**batch, "extra": 1})):
        with pytest.raises(InputError):
            codec.parse_batch(raw)


def test_acks_open_only_with_their_tag_and_key() -> None:
    ack = codec.make_ack(KEY, "node-b", "node-a", 7, [3])
    got = codec.open_signed(ack, codec.TAG_ACK, "ack", PUB)
    assert (got["kind"], got["cursor"], got["quarantined"]) == ("fed-ack", 7, [3])
    for tag, key in ((codec.TAG_HEARTBEAT, PUB), (codec.TAG_ACK, OTHER)):
        with pytest.raises(CryptoError):
            codec.open_signed(ack, tag, "ack", key)
    with pytest.raises(InputError):
        codec.open_signed({"signature": ack["signature"]}, codec.TAG_ACK, "ack", PUB)
