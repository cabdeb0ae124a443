"""Key ids, suites, and thin wrappers around signing and encryption keys.

A key id names a public key: ``"<alg>:" + sha256(alg || 0x00 || public_raw)[:32 hex]``,
e.g. ``ed25519:3f9a…`` (32 hex digits, 128 bits). Every signature and every wrapped
key names the key id it was made with, so the algorithm (the suite) is in every id.

Suites: signing ``ed25519`` (classical) and ``ed25519+mldsa65`` (hybrid composite,
:mod:`vigil.crypto.composite`); encryption ``x25519`` (classical) and
``mlkem768x25519`` (hybrid HPKE, :mod:`vigil.crypto.kem`). New keys are hybrid.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Protocol

import pysodium
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from vigil.crypto.composite import PUBLIC_LEN as COMPOSITE_PUBLIC_LEN
from vigil.crypto.composite import SIGNATURE_LEN as COMPOSITE_SIGNATURE_LEN
from vigil.crypto.composite import CompositePrivateKey, CompositePublicKey
from vigil.crypto.kem import (
    ALG_MLKEM768X25519,
    ALG_X25519,
    EncPrivate,
    HybridPrivateKey,
    check_enc_public,
    enc_alg,
    enc_public_raw,
)
from vigil.crypto.kem import PUBLIC_LEN as ENC_PUBLIC_LENS
from vigil.errors import CryptoError

ALG_ED25519 = "ed25519"
ALG_ED25519_MLDSA65 = "ed25519+mldsa65"
SIGN_ALGS: frozenset[str] = frozenset({ALG_ED25519, ALG_ED25519_MLDSA65})
ENC_ALGS: frozenset[str] = frozenset({ALG_X25519, ALG_MLKEM768X25519})
HYBRID_ALGS: frozenset[str] = frozenset({ALG_ED25519_MLDSA65, ALG_MLKEM768X25519})
KEY_ALGS: frozenset[str] = SIGN_ALGS | ENC_ALGS

KEY_ID_RE = re.compile(r"^(ed25519|ed25519\+mldsa65|x25519|mlkem768x25519):[0-9a-f]{32}$")
RAW_KEY_LEN = 32
SIGNATURE_LENS: dict[str, int] = {ALG_ED25519: 64, ALG_ED25519_MLDSA65: COMPOSITE_SIGNATURE_LEN}
SIGN_PUBLIC_LENS: dict[str, int] = {ALG_ED25519: RAW_KEY_LEN,
                                    ALG_ED25519_MLDSA65: COMPOSITE_PUBLIC_LEN}

__all__ = ["ALG_MLKEM768X25519", "ALG_X25519", "EncPrivate", "HybridPrivateKey",
           "enc_alg", "enc_public_raw"]


class _PublicRaw(Protocol):
    def public_bytes_raw(self) -> bytes: ...


class SignPrivate(Protocol):
    """A signing key: Ed25519, composite, or one held elsewhere (e.g. in a token)."""

    def sign(self, data: bytes) -> bytes: ...

    def public_key(self) -> _PublicRaw: ...


def alg_of(kid: str) -> str:
    """The algorithm (suite id) a key id names, e.g. ``ed25519+mldsa65``."""
    return kid.split(":", 1)[0]


def is_hybrid(kid: object) -> bool:
    """True if ``kid`` is a key id of a hybrid (post-quantum) suite."""
    return is_key_id(kid) and alg_of(str(kid)) in HYBRID_ALGS


def sign_alg(private: SignPrivate) -> str:
    return ALG_ED25519_MLDSA65 if isinstance(private, CompositePrivateKey) else ALG_ED25519


def sign_public_raw(private: SignPrivate) -> bytes:
    return private.public_key().public_bytes_raw()


def sign_key_id(private: SignPrivate) -> str:
    return key_id(sign_alg(private), sign_public_raw(private))


def enc_key_id(private: EncPrivate) -> str:
    return key_id(enc_alg(private), enc_public_raw(private))


def sign_alg_of_public(public_raw: bytes) -> str:
    """The signing algorithm of a raw public key, told by its length (``crypto.bad_key``)."""
    for alg, n in SIGN_PUBLIC_LENS.items():
        if isinstance(public_raw, bytes | bytearray) and len(public_raw) == n:
            return alg
    raise CryptoError("not a signing public key", code="crypto.bad_key")


def enc_alg_of_public(public_raw: bytes) -> str:
    """The encryption algorithm of a raw public key, told by its length
    (``crypto.bad_key``)."""
    for alg, n in ENC_PUBLIC_LENS.items():
        if isinstance(public_raw, bytes | bytearray) and len(public_raw) == n:
            check_enc_public(alg, public_raw)
            return alg
    raise CryptoError("not an encryption public key", code="crypto.bad_key")


def load_sign_private(alg: str, raw: bytes) -> SignPrivate:
    """A signing private key of algorithm ``alg`` from its raw bytes."""
    if alg == ALG_ED25519_MLDSA65:
        return CompositePrivateKey.from_private_bytes(raw)
    if alg == ALG_ED25519:
        return SigningKey.from_raw(raw).private
    raise CryptoError(f"unknown signing algorithm {alg!r}", code="crypto.bad_key")


def generate_sign_key(hybrid: bool = True) -> SignPrivate:
    """A new signing key: composite ``ed25519+mldsa65`` unless ``hybrid`` is false."""
    return CompositePrivateKey.generate() if hybrid else Ed25519PrivateKey.generate()


def generate_enc_key(hybrid: bool = True) -> EncPrivate:
    """A new recipient key: ``mlkem768x25519`` unless ``hybrid`` is false."""
    return HybridPrivateKey.generate() if hybrid else X25519PrivateKey.generate()


def verify_raw(public_raw: bytes, signature: bytes, data: bytes) -> None:
    """Check ``signature`` over ``data`` with a raw public key of either signing suite;
    ``crypto.bad_key`` for a malformed key, ``InvalidSignature`` for a wrong signature."""
    alg = sign_alg_of_public(public_raw)
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_LENS[alg]:
        raise InvalidSignature(f"not a {alg} signature")
    if alg == ALG_ED25519:
        ed25519_verify(bytes(public_raw), bytes(signature), data)
    else:
        composite_public(bytes(public_raw)).verify(bytes(signature), data)


@functools.lru_cache(maxsize=512)
def composite_public(public_raw: bytes) -> CompositePublicKey:
    """A composite public key loaded from its raw bytes, kept for the next signature it
    checks: loading the ML-DSA-65 half costs about a tenth of a verification, and the
    same members' keys check every share (``crypto.bad_key`` if malformed, never
    kept)."""
    return CompositePublicKey.from_public_bytes(public_raw)


def key_id(alg: str, public_raw: bytes) -> str:
    """The id of a public key: ``f"{alg}:{sha256(alg + b'\\0' + public_raw).hex()[:32]}"``."""
    if alg not in KEY_ALGS:
        raise CryptoError(f"unknown key algorithm {alg!r}", code="crypto.bad_key")
    digest = hashlib.sha256(alg.encode() + b"\0" + bytes(public_raw)).hexdigest()
    return f"{alg}:{digest[:32]}"


def is_key_id(value: object, alg: str | None = None) -> bool:
    """True if ``value`` is a well-formed key id (of algorithm ``alg`` when given)."""
    if not isinstance(value, str) or not KEY_ID_RE.fullmatch(value):
        return False
    return alg is None or value.split(":", 1)[0] == alg


def _check_raw(raw: bytes, what: str) -> bytes:
    if not isinstance(raw, bytes | bytearray | memoryview) or len(raw) != RAW_KEY_LEN:
        raise CryptoError(f"{what} must be {RAW_KEY_LEN} raw bytes", code="crypto.bad_key")
    return bytes(raw)


def ed25519_public(public_raw: bytes) -> Ed25519PublicKey:
    """Load a raw Ed25519 public key (``crypto.bad_key`` if malformed)."""
    try:
        return _ed25519_loaded(_check_raw(public_raw, "ed25519 public key"))
    except ValueError as e:
        raise CryptoError("bad ed25519 public key", code="crypto.bad_key") from e


def ed25519_verify(public_raw: bytes, signature: bytes, data: bytes) -> None:
    """Check an Ed25519 signature (``InvalidSignature`` if wrong, ``crypto.bad_key`` for
    a malformed key). libsodium checks first: it verifies in less than half the time
    OpenSSL takes here, and what it accepts OpenSSL accepts too (it refuses more: keys
    and R of small order, keys not canonically encoded). What libsodium refuses,
    OpenSSL decides, so the signatures accepted are exactly OpenSSL's (RFC 8032)."""
    try:
        pysodium.crypto_sign_verify_detached(signature, data, public_raw)
        return
    except ValueError:
        pass
    ed25519_public(public_raw).verify(signature, data)


@functools.lru_cache(maxsize=1024)
def _ed25519_loaded(raw: bytes) -> Ed25519PublicKey:
    """The loaded key of 32 raw bytes (immutable; a node verifies many signatures of
    the same few keys, a batch of shares from one originator)."""
    return Ed25519PublicKey.from_public_bytes(raw)


def x25519_public(public_raw: bytes) -> X25519PublicKey:
    """Load a raw X25519 public key (``crypto.bad_key`` if malformed)."""
    try:
        return X25519PublicKey.from_public_bytes(_check_raw(public_raw, "x25519 public key"))
    except ValueError as e:
        raise CryptoError("bad x25519 public key", code="crypto.bad_key") from e


def ed25519_public_raw(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes_raw()


def x25519_public_raw(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return pub.public_bytes_raw()


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An Ed25519 private key with its raw public key and key id."""

    private: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, private_raw: bytes) -> SigningKey:
        try:
            return cls(
                Ed25519PrivateKey.from_private_bytes(_check_raw(private_raw, "ed25519 private key"))
            )
        except ValueError as e:
            raise CryptoError("bad ed25519 private key", code="crypto.bad_key") from e

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def private_raw(self) -> bytes:
        return self.private.private_bytes_raw()

    @property
    def key_id(self) -> str:
        return key_id(ALG_ED25519, self.public_raw)


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    """An X25519 private key (HPKE recipient key) with its raw public key and key id."""

    private: X25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> EncryptionKey:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_raw(cls, private_raw: bytes) -> EncryptionKey:
        try:
            return cls(
                X25519PrivateKey.from_private_bytes(_check_raw(private_raw, "x25519 private key"))
            )
        except ValueError as e:
            raise CryptoError("bad x25519 private key", code="crypto.bad_key") from e

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    @property
    def private_raw(self) -> bytes:
        return self.private.private_bytes_raw()

    @property
    def key_id(self) -> str:
        return key_id(ALG_X25519, self.public_raw)
