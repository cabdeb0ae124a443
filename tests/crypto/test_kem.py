"""HPKE wraps in the classical and the hybrid (MLKEM768-X25519) suites."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
VECTORS = Path(__file__).parent.parent / "data" / "vectors"


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


# -- against an independent HPKE: RFC 9180 base mode and the X-Wing combiner of
# draft-ietf-hpke-pq, written here from the specifications with only primitives (HKDF
# by hmac, SHA3 by hashlib, X25519, ML-KEM-768 and AES-GCM), not cryptography's HPKE

KEM_X25519, KEM_XWING, KDF_SHA256 = 0x0020, 0x647A, 0x0001
AEADS = {KEM_X25519: (0x0001, 16), KEM_XWING: (0x0002, 32)}  # AES-128-GCM, AES-256-GCM
XWING_LABEL = b"\\.//^\\"


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, n: int) -> bytes:
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + t, i + 1
    return out[:n]


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, n: int) -> bytes:
    return _expand(prk, n.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info, n)


def _key_schedule(kem: int, shared: bytes, info: bytes) -> tuple[bytes, bytes]:
    aead, nk = AEADS[kem]
    suite = b"HPKE" + kem.to_bytes(2, "big") + KDF_SHA256.to_bytes(2, "big") + \
        aead.to_bytes(2, "big")
    context = b"\0" + _labeled_extract(suite, b"", b"psk_id_hash", b"") + \
        _labeled_extract(suite, b"", b"info_hash", info)
    secret = _labeled_extract(suite, shared, b"secret", b"")
    return (_labeled_expand(suite, secret, b"key", context, nk),
            _labeled_expand(suite, secret, b"base_nonce", context, 12))


def _dhkem_x25519(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    suite = b"KEM" + KEM_X25519.to_bytes(2, "big")
    prk = _labeled_extract(suite, b"", b"eae_prk", dh)
    return _labeled_expand(suite, prk, b"shared_secret", enc + pk_r, 32)


def _xwing(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest()


def independent_open(blob: bytes, private: object, info: bytes) -> bytes:
    if isinstance(private, HybridPrivateKey):
        ct_m, ct_x, ct = blob[:1088], blob[1088:1120], blob[1120:]
        pk_x = private.x25519.public_key().public_bytes_raw()
        ss_x = private.x25519.exchange(X25519PublicKey.from_public_bytes(ct_x))
        shared = _xwing(private.mlkem.decapsulate(ct_m), ss_x, ct_x, pk_x)
        kem = KEM_XWING
    else:
        assert isinstance(private, X25519PrivateKey)
        enc, ct = blob[:32], blob[32:]
        dh = private.exchange(X25519PublicKey.from_public_bytes(enc))
        shared = _dhkem_x25519(dh, enc, private.public_key().public_bytes_raw())
        kem = KEM_X25519
    key, nonce = _key_schedule(kem, shared, info)
    return AESGCM(key).decrypt(nonce, ct, b"")


def independent_seal(public_raw: bytes, plaintext: bytes, info: bytes) -> bytes:
    eph = X25519PrivateKey.generate()
    ct_x = eph.public_key().public_bytes_raw()
    if len(public_raw) == 1216:
        pk_m, pk_x = public_raw[:1184], public_raw[1184:]
        ss_m, ct_m = MLKEM768PublicKey.from_public_bytes(pk_m).encapsulate()
        ss_x = eph.exchange(X25519PublicKey.from_public_bytes(pk_x))
        enc, shared, kem = ct_m + ct_x, _xwing(ss_m, ss_x, ct_x, pk_x), KEM_XWING
    else:
        dh = eph.exchange(X25519PublicKey.from_public_bytes(public_raw))
        enc, shared, kem = ct_x, _dhkem_x25519(dh, ct_x, public_raw), KEM_X25519
    key, nonce = _key_schedule(kem, shared, info)
    return enc + AESGCM(key).encrypt(nonce, plaintext, b"")


def test_hybrid_wrap_vector_opens_with_an_independent_hpke() -> None:
    """The published hybrid wrap vector (tests/data/vectors/vigil-hybrid-v1.json)."""
    v = json.loads((VECTORS / "vigil-hybrid-v1.json").read_text("utf-8"))
    w = v["wrap"]
    k = next(x["enc"] for x in v["keys"].values() if x["enc"]["id"] == w["key"])
    private = load_enc_private(k["alg"], bytes.fromhex(k["private"]))
    got = independent_open(bytes.fromhex(w["blob_hex"]), private, bytes.fromhex(w["info_hex"]))
    assert got.hex() == w["content_key_hex"]


@pytest.mark.parametrize("hybrid", [False, True])
def test_both_suites_interwork_with_an_independent_hpke(hybrid: bool) -> None:
    private = generate_enc_key(hybrid)
    public = enc_public_raw(private)
    alg = enc_alg_of_public(public)
    secret = b"\x5a" * 32
    assert independent_open(hpke_seal(alg, public, secret, INFO), private, INFO) == secret
    assert hpke_open(independent_seal(public, secret, INFO), private, INFO) == secret
    with pytest.raises(InvalidTag):  # the info is bound
        independent_open(hpke_seal(alg, public, secret, INFO), private, INFO + b"x")
