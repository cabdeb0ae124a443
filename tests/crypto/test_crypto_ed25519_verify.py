"""Ed25519 checks: libsodium first, OpenSSL deciding what libsodium refuses. The
signatures accepted must be exactly OpenSSL's, on valid, altered and edge-case input."""

from __future__ import annotations

import random

import pysodium
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vigil.crypto.keys import ed25519_public, verify_raw
from vigil.errors import CryptoError


def _openssl(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    try:
        ed25519_public(public_raw).verify(signature, data)
    except (InvalidSignature, CryptoError):
        return False
    return True


def _vigil(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    try:
        verify_raw(public_raw, signature, data)
    except (InvalidSignature, CryptoError):
        return False
    return True


def test_valid_and_altered_signatures_are_judged_as_openssl_judges_them() -> None:
    rng = random.Random(7)
    for n in range(200):
        key = Ed25519PrivateKey.generate()
        pub = key.public_key().public_bytes_raw()
        msg = rng.randbytes(rng.randrange(0, 300))
        sig = key.sign(msg)
        assert _vigil(pub, sig, msg)
        cases = [(pub, sig, msg + b"x")]
        bad = bytearray(sig)
        bad[rng.randrange(64)] ^= 1 << rng.randrange(8)
        cases.append((pub, bytes(bad), msg))
        other = bytearray(pub)
        other[rng.randrange(32)] ^= 1 << rng.randrange(8)
        cases.append((bytes(other), sig, msg))
        for case in cases:
            assert _vigil(*case) == _openssl(*case), n


@pytest.mark.parametrize("name", ["identity key, identity R, S = 0"])
def test_what_libsodium_refuses_openssl_decides(name: str) -> None:
    """A key and R of small order: libsodium refuses them, OpenSSL (RFC 8032,
    cofactorless) accepts this one; the node's answer stays OpenSSL's."""
    identity = b"\x01" + b"\x00" * 31
    sig, msg = identity + b"\x00" * 32, b"any message"
    with pytest.raises(ValueError):
        pysodium.crypto_sign_verify_detached(sig, msg, identity)
    assert _openssl(identity, sig, msg)
    assert _vigil(identity, sig, msg)


def test_a_signature_of_the_wrong_length_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    with pytest.raises(InvalidSignature):
        verify_raw(pub, key.sign(b"m")[:63], b"m")
