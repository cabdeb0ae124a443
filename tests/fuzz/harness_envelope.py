"""atheris harness: the envelope wire form and verifier.

Keys are fixed (derived from constant bytes, test-only) so that the seed envelopes in
tests/data/fuzz/envelope/ verify. Property: any bytes are refused with one of vigil's
4xx errors, or parse as an envelope; an envelope that verifies is one of the signed
seeds (same header, signature, payload and wraps) -- nothing the fuzzer edits passes
verification -- and opens for each of its recipients. ``python -m
tests.fuzz.harness_envelope --seeds`` rewrites the seed corpus.
"""

from __future__ import annotations

import hashlib
import sys

from tests.fuzz.harness import SEEDS, guarded, seeds

from vigil.crypto.keys import EncryptionKey, SigningKey
from vigil.model import Audience, Envelope, Form, Handling, Tlp
from vigil.protocol.envelope import (
    build_share,
    envelope_from_json,
    envelope_to_json,
    open_share,
    verify_envelope,
)
from vigil.stix import strictjson

ORIG = "identity--5b2f1c7e-8d3a-4e6b-9f10-2a3b4c5d6e7f"
MEMBERS = ["identity--0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f",
           "identity--f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b"]
SIGN = SigningKey.from_raw(hashlib.sha256(b"vigil fuzz signing key").digest())
ENC = {m: EncryptionKey.from_raw(hashlib.sha256(m.encode()).digest()) for m in [ORIG, *MEMBERS]}
PLAINTEXT = b'{"type":"bundle","id":"bundle--7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a","objects":[]}'


def _key(env: Envelope) -> bytes:
    wraps = sorted((w.member, w.key, w.blob) for w in env.wraps)
    return strictjson.dumps([dict(env.header), env.signature.hex(), env.payload.hex(),
                             [[m, k, b.hex()] for m, k, b in wraps]])


def _signed() -> set[bytes]:
    return {_key(envelope_from_json(strictjson.loads(p.read_bytes())))
            for p in seeds("envelope")}


SIGNED = _signed()


def one_input(data: bytes) -> None:
    def run() -> None:
        env = envelope_from_json(strictjson.loads(data))
        verify_envelope(env, SIGN.public_raw)
        assert _key(env) in SIGNED, "an envelope the fuzzer made verified"
        for member in env.header["audience"]["recipients"]:
            assert open_share(env, member, ENC[member].private) == PLAINTEXT

    guarded(run)


def write_seeds() -> None:
    out = SEEDS / "envelope"
    out.mkdir(parents=True, exist_ok=True)
    for i, (form, tlp, expires) in enumerate([
            (Form.SEALED, Tlp.AMBER, "2026-12-29T08:00:00.000Z"), (Form.PLAIN, Tlp.CLEAR, None),
            (Form.SEALED, Tlp.RED, None)]):
        recipients = MEMBERS[: 1 + i % 2]
        keys = {m: (ENC[m].key_id, ENC[m].public_raw) for m in [ORIG, *recipients]}
        env = build_share(
            plaintext=PLAINTEXT, originator=ORIG, audience=Audience(tlp, None),
            recipients=recipients, form=form, handling=Handling("ir", i == 0, ("c",)),
            themes=["cyber"], regions=["EU"], expires=expires,
            signer_private=SIGN.private, signer_key_id=SIGN.key_id,
            recipient_keys=keys if form is Form.SEALED else {},
            created="2026-11-29T08:00:00.000Z",
            share_id=f"share--6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0{i}")
        (out / f"{form.value}-{tlp.value}.json").write_bytes(
            strictjson.dumps(envelope_to_json(env)))


if __name__ == "__main__":
    if sys.argv[1:] == ["--seeds"]:
        write_seeds()
