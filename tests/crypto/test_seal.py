import hashlib
import json
import time
from dataclasses import replace

import pytest

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import EncryptionKey
from vigil.crypto.seal import (
    open_payload,
    seal_payload,
    unwrap_key,
    wrap_key,
    wraps_digest,
)
from vigil.errors import CryptoError
from vigil.model import Wrap

SID = "share--6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
SID2 = "share--0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d"
A = "identity--0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
B = "identity--f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b"


def code(fn: object, *args: object) -> str:
    with pytest.raises(CryptoError) as e:
        fn(*args)  # type: ignore[operator]
    return e.value.code


def test_payload_round_trip_and_layout() -> None:
    stored, k = seal_payload(SID, b"secret")
    assert len(k) == 32 and len(stored) == 12 + 6 + 16
    assert open_payload(SID, stored, k) == b"secret"
    assert seal_payload(SID, b"secret")[0] != stored  # fresh key and nonce each time


def test_payload_deterministic_with_key_and_nonce() -> None:
    key, nonce = bytes(range(32)), bytes(range(12))
    s1, k1 = seal_payload(SID, b"x" * 100, key=key, nonce=nonce)
    s2, _ = seal_payload(SID, b"x" * 100, key=key, nonce=nonce)
    assert s1 == s2 and k1 == key and s1[:12] == nonce
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert s1[12:] == AESGCM(key).encrypt(nonce, b"x" * 100, b"vigil/payload/v1\0" + SID.encode())


def test_payload_bad_key_or_nonce_length() -> None:
    with pytest.raises(CryptoError):
        seal_payload(SID, b"x", key=bytes(16))
    with pytest.raises(CryptoError):
        seal_payload(SID, b"x", nonce=bytes(8))


def test_payload_bound_to_share_id_and_bytes() -> None:
    stored, k = seal_payload(SID, b"secret payload")
    assert code(open_payload, SID2, stored, k) == "crypto.open_failed"
    assert code(open_payload, SID, stored, bytes(32)) == "crypto.open_failed"
    for i in range(len(stored)):
        flipped = stored[:i] + bytes([stored[i] ^ 0x40]) + stored[i + 1 :]
        assert code(open_payload, SID, flipped, k) == "crypto.open_failed"
    assert code(open_payload, SID, stored[:27], k) == "crypto.open_failed"
    assert code(open_payload, SID, stored, k[:16]) == "crypto.open_failed"


def test_wrap_round_trip() -> None:
    r = EncryptionKey.generate()
    k = bytes(range(32))
    w = wrap_key(SID, k, A, r.key_id, r.public_raw)
    assert w.member == A and w.key == r.key_id and len(w.blob) == 80
    assert unwrap_key(SID, w, r.private) == k


def test_wrap_bound_to_share_member_and_key_id() -> None:
    r, other = EncryptionKey.generate(), EncryptionKey.generate()
    k = bytes(range(32))
    w = wrap_key(SID, k, A, r.key_id, r.public_raw)
    assert code(unwrap_key, SID2, w, r.private) == "crypto.open_failed"  # other share
    assert code(unwrap_key, SID, replace(w, member=B), r.private) == "crypto.open_failed"
    assert code(unwrap_key, SID, w, other.private) == "crypto.open_failed"  # other key
    # the same private key presented under another key id
    fake_id = "x25519:" + "0" * 32
    assert code(unwrap_key, SID, replace(w, key=fake_id), r.private) == "crypto.open_failed"
    for i in range(len(w.blob)):
        blob = w.blob[:i] + bytes([w.blob[i] ^ 0x01]) + w.blob[i + 1 :]
        assert code(unwrap_key, SID, replace(w, blob=blob), r.private) == "crypto.open_failed"


def test_wrap_checks_key_id() -> None:
    r, other = EncryptionKey.generate(), EncryptionKey.generate()
    assert code(wrap_key, SID, bytes(32), A, other.key_id, r.public_raw) == "crypto.key_mismatch"
    assert code(wrap_key, SID, bytes(31), A, r.key_id, r.public_raw) == "crypto.bad_key"
    assert code(wrap_key, SID, bytes(32), "a\0b", r.key_id, r.public_raw) == "crypto.bad_context"


def test_wraps_digest_definition() -> None:
    ws = [Wrap(B, "x25519:" + "b" * 32, b"\x01" * 80), Wrap(A, "x25519:" + "a" * 32, b"\x02" * 80)]
    listed = [{"member": w.member, "key": w.key, "blob": b64u(w.blob)} for w in reversed(ws)]
    want = "sha256:" + hashlib.sha256(canonical(listed)).hexdigest()
    assert wraps_digest(ws) == wraps_digest(list(reversed(ws))) == want
    assert json.loads(canonical(listed))[0]["member"] == A
    assert wraps_digest(ws[:1]) != want
    assert wraps_digest([]) == "sha256:" + hashlib.sha256(b"[]").hexdigest()


def test_twenty_wraps_are_fast() -> None:
    keys = [EncryptionKey.generate() for _ in range(20)]
    k = bytes(32)
    t = time.perf_counter()
    for i, r in enumerate(keys):
        wrap_key(SID, k, f"identity--00000000-0000-4000-8000-{i:012d}", r.key_id, r.public_raw)
    assert time.perf_counter() - t < 0.5  # ~3 ms here


def test_b64u_strict() -> None:
    for n in range(10):
        assert b64u_decode(b64u(bytes(range(n)))) == bytes(range(n))
    for text in ["A", "AB==", "AB=", "A B", "AB+/", "AB/C", "AAB", "é", "AAAA\n"]:
        with pytest.raises(ValueError):
            b64u_decode(text)


def test_large_payload_sealed_and_opened_piece_by_piece(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """From two pieces on, no one AES call covers the whole payload (each would hold
    the interpreter lock throughout); the bytes are those of one AES-GCM call."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from vigil.crypto import seal

    key, nonce = bytes(range(32)), bytes(range(12))
    plain = bytes(range(256)) * (3 * seal.PIECE // 256) + b"tail"
    whole = nonce + AESGCM(key).encrypt(nonce, plain, b"vigil/payload/v1\0" + SID.encode())

    class Small:  # the one-shot calls, refused over two pieces
        def __init__(self, k: bytes) -> None:
            self.aead = AESGCM(k)

        def encrypt(self, n: bytes, data: bytes, aad: bytes) -> bytes:
            assert len(data) < 2 * seal.PIECE
            return self.aead.encrypt(n, data, aad)

        def decrypt(self, n: bytes, data: bytes, aad: bytes) -> bytes:
            assert len(data) < 2 * seal.PIECE
            return self.aead.decrypt(n, data, aad)

    monkeypatch.setattr(seal, "AESGCM", Small)
    stored, _ = seal_payload(SID, plain, key=key, nonce=nonce)
    assert stored == whole
    assert open_payload(SID, stored, key) == plain
    for at in (5, 12, 12 + seal.PIECE, len(stored) - 3):  # nonce, pieces, tag
        bad = bytearray(stored)
        bad[at] ^= 1
        assert code(open_payload, SID, bytes(bad), key) == "crypto.open_failed"
    assert code(open_payload, SID2, stored, key) == "crypto.open_failed"
