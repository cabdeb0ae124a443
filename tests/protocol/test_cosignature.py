"""cosignature/v1 (c2sp.org/tlog-cosignature) against the spec text and the public
vectors of transparency-dev/formats (note/note_cosigv1_test.go)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.errors import CryptoError, InputError
from vigil.log.note import NoteSignature, note_key_id, parse_note, sign_note
from vigil.protocol.cosignature import (
    cosign,
    cosignature_key_id,
    cosignature_timestamp,
    cosignature_vkey,
    cosigned_message,
    cosigners,
    parse_cosignature_vkey,
    verify_cosignature,
)

BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
# a native cosignature/v1 verifier key from transparency-dev/formats' tests
REMORA = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
# a cosignature line's base64 from the same tests: its timestamp is 1727964367
TIMESTAMPED = "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gx" \
              "EHWWOworDcFiEBYJXORmnFBOBA=="


def test_public_vkey_key_id_is_the_spec_formula() -> None:
    name, public = parse_cosignature_vkey(REMORA)
    assert name == "remora.n621.de"
    want = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    assert cosignature_key_id(name, public) == want == bytes.fromhex("da77ade7")
    assert cosignature_vkey(name, public) == REMORA
    # the same key as a plain signed-note key (type 0x01) has another id
    assert note_key_id(name, public) != want


def test_public_timestamp_vector() -> None:
    raw = base64.b64decode(TIMESTAMPED)
    sig = NoteSignature("w", raw[:4], raw[4:])
    assert cosignature_timestamp(sig) == 1727964367
    short = base64.b64decode("eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ug"
                             "nkyV+MUMLXpWs1hPb/W/4xkNQY=")
    with pytest.raises(CryptoError):
        cosignature_timestamp(NoteSignature("w", short[:4], short[4:]))


def test_signed_message_is_the_spec_example() -> None:
    assert cosigned_message(BODY, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    with pytest.raises(InputError):
        cosigned_message(BODY, 1 << 63)


def test_cosign_verify_and_layout() -> None:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    sig = cosign(BODY, "witness.example/w1", key, 1679315147)
    assert sig.signature[:8] == (1679315147).to_bytes(8, "big") and len(sig.signature) == 72
    assert verify_cosignature(BODY, sig, "witness.example/w1", pub) == 1679315147
    # the Ed25519 signature is over exactly the spec's message
    key.public_key().verify(sig.signature[8:], cosigned_message(BODY, 1679315147))
    with pytest.raises(CryptoError):
        verify_cosignature(BODY.replace("20852163", "20852164"), sig, "witness.example/w1", pub)
    forged = NoteSignature(sig.name, sig.key_id,
                           (1679315148).to_bytes(8, "big") + sig.signature[8:])
    with pytest.raises(CryptoError):
        verify_cosignature(BODY, forged, "witness.example/w1", pub)


def test_cosigners_ignores_unknown_and_plain_note_signatures() -> None:
    log_key, w1, w2 = (Ed25519PrivateKey.generate() for _ in range(3))
    plain = sign_note(BODY, "example.com/behind-the-sofa", log_key)
    c1 = cosign(BODY, "w1", w1, 10)
    c2 = cosign(BODY, "w2", w2, 11)
    note = BODY + "\n" + plain.line() + c1.line() + c2.line()
    known = {"w1": w1.public_key().public_bytes_raw(),
             "w2": w2.public_key().public_bytes_raw()}
    assert cosigners(note, known) == {"w1": 10, "w2": 11}
    assert cosigners(note, {"w1": known["w1"]}) == {"w1": 10}
    # a plain signed-note signature by a witness key is not a cosignature
    fake = sign_note(BODY, "w1", w1)
    assert cosigners(BODY + "\n" + fake.line(), known) == {}
    assert parse_note(note)[0] == BODY
