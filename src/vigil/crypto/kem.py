"""HPKE key wraps in two suites, chosen by the recipient key's algorithm.

* ``x25519``: RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 /
  AES-128-GCM; public key 32 bytes, ``enc`` 32 bytes.
* ``mlkem768x25519`` (hybrid): base mode, KEM ``MLKEM768-X25519`` (draft-ietf-hpke-pq,
  the X-Wing style combiner in ``cryptography``) / HKDF-SHA256 / AES-256-GCM; public key
  ``mlkem768_public (1184) || x25519_public (32)``, private key ``mlkem768_seed (64) ||
  x25519_private (32)``, ``enc`` 1120 bytes.

:func:`hpke_seal` and :func:`hpke_open` are the only places that use a recipient's
key, so a key held elsewhere (a token) slots in here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from vigil.errors import CryptoError

ALG_X25519 = "x25519"
ALG_MLKEM768X25519 = "mlkem768x25519"
MLKEM_PUBLIC_LEN = 1184
MLKEM_SEED_LEN = 64
X25519_LEN = 32
HYBRID_PUBLIC_LEN = MLKEM_PUBLIC_LEN + X25519_LEN  # 1216
HYBRID_PRIVATE_LEN = MLKEM_SEED_LEN + X25519_LEN  # 96

SUITES: dict[str, hpke.Suite] = {
    ALG_X25519: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM),
    ALG_MLKEM768X25519: hpke.Suite(
        hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM),
}
ENC_LEN: dict[str, int] = {
    ALG_X25519: hpke.KEM.X25519.enc_length(),
    ALG_MLKEM768X25519: hpke.KEM.MLKEM768_X25519.enc_length(),
}
PUBLIC_LEN: dict[str, int] = {ALG_X25519: X25519_LEN, ALG_MLKEM768X25519: HYBRID_PUBLIC_LEN}
AEAD_TAG_LEN = 16


def blob_len(alg: str, plaintext_len: int) -> int:
    """The length of ``enc || ciphertext`` for a plaintext of ``plaintext_len`` bytes."""
    return ENC_LEN[alg] + plaintext_len + AEAD_TAG_LEN


@dataclass(frozen=True, slots=True)
class HybridPrivateKey:
    """An ML-KEM-768 + X25519 recipient key (``mlkem768x25519``)."""

    mlkem: MLKEM768PrivateKey = field(repr=False)
    x25519: X25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> HybridPrivateKey:
        return cls(MLKEM768PrivateKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> HybridPrivateKey:
        """Load ``mlkem768_seed (64) || x25519_private (32)`` (``crypto.bad_key``)."""
        if not isinstance(raw, bytes | bytearray) or len(raw) != HYBRID_PRIVATE_LEN:
            raise CryptoError(f"hybrid private key must be {HYBRID_PRIVATE_LEN} bytes",
                              code="crypto.bad_key")
        try:
            return cls(MLKEM768PrivateKey.from_seed_bytes(bytes(raw[:MLKEM_SEED_LEN])),
                       X25519PrivateKey.from_private_bytes(bytes(raw[MLKEM_SEED_LEN:])))
        except ValueError as e:
            raise CryptoError("bad hybrid private key", code="crypto.bad_key") from e

    def private_bytes_raw(self) -> bytes:
        return self.mlkem.private_bytes_raw() + self.x25519.private_bytes_raw()

    def public_key(self) -> HybridPublicKey:
        return HybridPublicKey(self.mlkem.public_key(), self.x25519.public_key())


@dataclass(frozen=True, slots=True)
class HybridPublicKey:
    mlkem: MLKEM768PublicKey
    x25519: X25519PublicKey

    def public_bytes_raw(self) -> bytes:
        return self.mlkem.public_bytes_raw() + self.x25519.public_bytes_raw()


class _PublicRaw(Protocol):
    def public_bytes_raw(self) -> bytes: ...


class ExternalEncKey(Protocol):
    """An ``x25519`` recipient key held elsewhere (a PKCS#11 token,
    :mod:`vigil.crypto.pkcs11`): it opens wraps itself and never gives out its value."""

    def public_key(self) -> _PublicRaw: ...

    def hpke_open(self, blob: bytes, info: bytes) -> bytes: ...


EncPrivate = X25519PrivateKey | HybridPrivateKey | ExternalEncKey


def enc_alg(private: EncPrivate) -> str:
    return ALG_MLKEM768X25519 if isinstance(private, HybridPrivateKey) else ALG_X25519


def enc_public_raw(private: EncPrivate) -> bytes:
    return private.public_key().public_bytes_raw()


def load_enc_private(alg: str, raw: bytes) -> EncPrivate:
    """A recipient private key of algorithm ``alg`` from its raw bytes."""
    if alg == ALG_MLKEM768X25519:
        return HybridPrivateKey.from_private_bytes(raw)
    if alg == ALG_X25519 and isinstance(raw, bytes | bytearray) and len(raw) == X25519_LEN:
        try:
            return X25519PrivateKey.from_private_bytes(bytes(raw))
        except ValueError as e:
            raise CryptoError("bad x25519 private key", code="crypto.bad_key") from e
    raise CryptoError(f"bad {alg} private key", code="crypto.bad_key")


def _load_public(alg: str, raw: bytes) -> X25519PublicKey | hpke.MLKEM768X25519PublicKey:
    if alg not in PUBLIC_LEN or not isinstance(raw, bytes | bytearray) \
            or len(raw) != PUBLIC_LEN[alg]:
        raise CryptoError(f"bad {alg} public key", code="crypto.bad_key")
    try:
        if alg == ALG_X25519:
            return X25519PublicKey.from_public_bytes(bytes(raw))
        return hpke.MLKEM768X25519PublicKey(
            MLKEM768PublicKey.from_public_bytes(bytes(raw[:MLKEM_PUBLIC_LEN])),
            X25519PublicKey.from_public_bytes(bytes(raw[MLKEM_PUBLIC_LEN:])))
    except ValueError as e:
        raise CryptoError(f"bad {alg} public key", code="crypto.bad_key") from e


def check_enc_public(alg: str, raw: bytes) -> None:
    """Raise ``crypto.bad_key`` unless ``raw`` is a valid ``alg`` public key."""
    _load_public(alg, raw)


def hpke_seal(alg: str, public_raw: bytes, plaintext: bytes, info: bytes) -> bytes:
    """``enc || ciphertext`` of ``plaintext`` for the ``alg`` public key ``public_raw``."""
    return SUITES[alg].encrypt(bytes(plaintext), _load_public(alg, public_raw), info=info)


def hpke_open(blob: bytes, private: EncPrivate, info: bytes) -> bytes:
    """Open ``enc || ciphertext`` with ``private``; ``crypto.open_failed`` on any fault."""
    alg = enc_alg(private)
    if not isinstance(private, X25519PrivateKey | HybridPrivateKey):
        return private.hpke_open(bytes(blob), info)
    hpke_private: X25519PrivateKey | hpke.MLKEM768X25519PrivateKey = (
        hpke.MLKEM768X25519PrivateKey(private.mlkem, private.x25519)
        if isinstance(private, HybridPrivateKey) else private)
    if len(blob) < ENC_LEN[alg] + AEAD_TAG_LEN:
        raise CryptoError("wrapped key cannot be opened", code="crypto.open_failed")
    try:
        return SUITES[alg].decrypt(bytes(blob), hpke_private, info=info)
    except (InvalidTag, ValueError) as e:
        raise CryptoError("wrapped key cannot be opened", code="crypto.open_failed") from e
