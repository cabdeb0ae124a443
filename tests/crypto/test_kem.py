"""HPKE wraps in the classical and the hybrid (MLKEM768-X25519) suites."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from vigil.crypto.kem import (
    ALG_MLKEM768X25519,
    ALG_X25519,
    ENC_LEN,
    HybridPrivateKey,
    blob_len,
    enc_alg,
    enc_public_raw,
    hpke_open,
    hpke_seal,
    load_enc_private,
)
from vigil.crypto.keys import enc_alg_of_public, enc_key_id, generate_enc_key, key_id
from vigil.errors import CryptoError

INFO = b"vigil/wrap/v1\0test"


def test_hybrid_key_encoding() -> None:
    mlkem_seed, x = bytes(range(64)), bytes(range(64, 96))
    k = HybridPrivateKey.from_private_bytes(mlkem_seed + x)
    pub = enc_public_raw(k)
    assert len(pub) == 1216
    assert pub[:1184] == MLKEM768PrivateKey.from_seed_bytes(mlkem_seed).public_key() \
        .public_bytes_raw()
    assert pub[1184:] == X25519PrivateKey.from_private_bytes(x).public_key().public_bytes_raw()
    assert k.private_bytes_raw() == mlkem_seed + x
    assert enc_alg(k) == ALG_MLKEM768X25519 == enc_alg_of_public(pub)
    assert enc_key_id(k) == key_id(ALG_MLKEM768X25519, pub)
    assert load_enc_private(ALG_MLKEM768X25519, mlkem_seed + x).private_bytes_raw() \
        == mlkem_seed + x
    with pytest.raises(CryptoError):
        HybridPrivateKey.from_private_bytes(mlkem_seed)


@pytest.mark.parametrize("hybrid", [True, False])
def test_round_trip_and_binding(hybrid: bool) -> None:
    k = generate_enc_key(hybrid)
    alg = enc_alg(k)
    blob = hpke_seal(alg, enc_public_raw(k), b"k" * 32, INFO)
    assert len(blob) == blob_len(alg, 32) == {ALG_X25519: 80, ALG_MLKEM768X25519: 1168}[alg]
    assert ENC_LEN[alg] == {ALG_X25519: 32, ALG_MLKEM768X25519: 1120}[alg]
    assert hpke_open(blob, k, INFO) == b"k" * 32
    for bad in ((blob, generate_enc_key(hybrid), INFO), (blob, k, INFO + b"x"),
                (blob[:-1] + bytes([blob[-1] ^ 1]), k, INFO), (blob[:10], k, INFO)):
        with pytest.raises(CryptoError) as e:
            hpke_open(*bad)
        assert e.value.code == "crypto.open_failed"


def test_x25519_half_of_a_hybrid_key_does_not_open_a_hybrid_wrap() -> None:
    """Dropping the ML-KEM part: the X25519 component alone opens nothing."""
    k = HybridPrivateKey.generate()
    blob = hpke_seal(ALG_MLKEM768X25519, enc_public_raw(k), b"k" * 32, INFO)
    with pytest.raises(CryptoError):
        hpke_open(blob, k.x25519, INFO)
    with pytest.raises(CryptoError):
        hpke_open(blob[1088:], k.x25519, INFO)


def test_public_keys_are_checked() -> None:
    with pytest.raises(CryptoError):
        hpke_seal(ALG_MLKEM768X25519, bytes(32), b"k" * 32, INFO)
    with pytest.raises(CryptoError):
        enc_alg_of_public(bytes(100))
