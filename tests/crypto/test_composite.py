"""The ed25519+mldsa65 composite: M', encodings, both halves must verify, and a check
of the ML-DSA-65 half against an independent implementation (dilithium-py)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey
from dilithium_py.ml_dsa import ML_DSA_65

from vigil.crypto.composite import (
    LABEL,
    MLDSA_SIG_LEN,
    PREFIX,
    PUBLIC_LEN,
    SIGNATURE_LEN,
    CompositePrivateKey,
    CompositePublicKey,
    message_representative,
)
from vigil.crypto.keys import ALG_ED25519_MLDSA65, composite_public, key_id, sign_key_id
from vigil.crypto.sign import TAG_RECEIPT, TAG_SHARE, sign, signed_bytes, verify
from vigil.errors import CryptoError

SEED = bytes(range(32))
ED = bytes(range(32, 64))
OBJ = {"share": "share--x", "n": 1}


@pytest.fixture(scope="module")
def key() -> CompositePrivateKey:
    return CompositePrivateKey.from_private_bytes(SEED + ED)


def test_message_representative_layout() -> None:
    assert PREFIX == b"CompositeAlgorithmSignatures2025"
    assert LABEL == b"COMPSIG-MLDSA65-Ed25519-SHA512"
    m = b"hello"
    assert message_representative(m) == PREFIX + LABEL + b"\x00" + hashlib.sha512(m).digest()
    assert message_representative(m, b"ctx") == \
        PREFIX + LABEL + b"\x03ctx" + hashlib.sha512(m).digest()
    with pytest.raises(CryptoError):
        message_representative(m, b"x" * 256)


def test_encodings(key: CompositePrivateKey) -> None:
    pub = key.public_key().public_bytes_raw()
    assert len(pub) == PUBLIC_LEN == 1952 + 32
    assert pub[:1952] == MLDSA65PrivateKey.from_seed_bytes(SEED).public_key().public_bytes_raw()
    assert pub[1952:] == Ed25519PrivateKey.from_private_bytes(ED).public_key().public_bytes_raw()
    assert key.private_bytes_raw() == SEED + ED
    assert CompositePublicKey.from_public_bytes(pub).public_bytes_raw() == pub
    assert sign_key_id(key) == key_id(ALG_ED25519_MLDSA65, pub)
    assert sign_key_id(key).startswith("ed25519+mldsa65:")
    for bad in (pub[:-1], pub + b"\0"):
        with pytest.raises(CryptoError):
            CompositePublicKey.from_public_bytes(bad)
    with pytest.raises(CryptoError):
        CompositePrivateKey.from_private_bytes(SEED)


def test_round_trip_through_vigil_signatures(key: CompositePrivateKey) -> None:
    pub = key.public_key().public_bytes_raw()
    sig = sign(TAG_SHARE, OBJ, key)
    assert len(sig) == SIGNATURE_LEN == 3373
    verify(TAG_SHARE, OBJ, sig, pub)
    with pytest.raises(CryptoError) as e:
        verify(TAG_RECEIPT, OBJ, sig, pub)
    assert e.value.code == "crypto.bad_signature"


def test_both_halves_must_verify(key: CompositePrivateKey) -> None:
    pub = key.public_key().public_bytes_raw()
    data = signed_bytes(TAG_SHARE, OBJ)
    sig = key.sign(data)
    other = key.sign(signed_bytes(TAG_SHARE, {"other": True}))
    for forged in (other[:MLDSA_SIG_LEN] + sig[MLDSA_SIG_LEN:],   # ML-DSA half wrong
                   sig[:MLDSA_SIG_LEN] + other[MLDSA_SIG_LEN:],   # Ed25519 half wrong
                   sig[:MLDSA_SIG_LEN] + bytes(64),
                   bytes(MLDSA_SIG_LEN) + sig[MLDSA_SIG_LEN:]):
        with pytest.raises(InvalidSignature):
            CompositePublicKey.from_public_bytes(pub).verify(forged, data)
        with pytest.raises(CryptoError):
            verify(TAG_SHARE, OBJ, forged, pub)


def test_stripped_ed25519_half_is_no_ed25519_signature(key: CompositePrivateKey) -> None:
    """Downgrade: the Ed25519 half, relabelled as a plain ed25519 signature by its own
    key, does not verify: it signs M', not the vigil signed bytes."""
    sig = sign(TAG_SHARE, OBJ, key)
    ed_pub = key.ed25519.public_key().public_bytes_raw()
    with pytest.raises(CryptoError) as e:
        verify(TAG_SHARE, OBJ, sig[MLDSA_SIG_LEN:], ed_pub)
    assert e.value.code == "crypto.bad_signature"
    with pytest.raises(CryptoError):  # nor the composite signature under the Ed25519 key
        verify(TAG_SHARE, OBJ, sig, ed_pub)


def test_mldsa_half_checks_with_dilithium_py(key: CompositePrivateKey) -> None:
    """dilithium-py (pure Python FIPS 204) derives the same ML-DSA-65 key from the seed,
    verifies the ML-DSA half over M' with ctx = Label, and its own deterministic
    signature verifies in vigil's composite."""
    pk, sk = ML_DSA_65.key_derive(SEED)
    pub = key.public_key().public_bytes_raw()
    assert pk == pub[:1952]
    data = signed_bytes(TAG_SHARE, OBJ)
    m_prime = message_representative(data)
    sig = key.sign(data)
    assert ML_DSA_65.verify(pk, m_prime, sig[:MLDSA_SIG_LEN], ctx=LABEL)
    assert not ML_DSA_65.verify(pk, m_prime, sig[:MLDSA_SIG_LEN], ctx=b"")
    theirs = ML_DSA_65.sign(sk, m_prime, ctx=LABEL, deterministic=True)
    composite = theirs + key.ed25519.sign(m_prime)
    verify(TAG_SHARE, OBJ, composite, pub)


def test_a_composite_key_is_loaded_once_and_still_checks_every_signature(
        key: CompositePrivateKey) -> None:
    pub = key.public_key().public_bytes_raw()
    sig = sign(TAG_SHARE, OBJ, key)
    composite_public.cache_clear()
    verify(TAG_SHARE, OBJ, sig, pub)
    verify(TAG_SHARE, OBJ, sig, pub)
    info = composite_public.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    forged = sig[:MLDSA_SIG_LEN] + bytes(64)  # the kept key refuses what it refused before
    with pytest.raises(CryptoError) as e:
        verify(TAG_SHARE, OBJ, forged, pub)
    assert e.value.code == "crypto.bad_signature"
    other = CompositePrivateKey.generate()  # and a signature by another key
    with pytest.raises(CryptoError):
        verify(TAG_SHARE, OBJ, sign(TAG_SHARE, OBJ, other), pub)
