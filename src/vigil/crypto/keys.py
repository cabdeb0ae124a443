"""Key ids and thin wrappers around the Ed25519 (signing) and X25519 (encryption) keys.

A key id names a public key: ``"<alg>:" + sha256(alg || 0x00 || public_raw)[:32 hex]``,
e.g. ``ed25519:3f9a…`` (32 hex digits, 128 bits). Every signature and every wrapped
key names the key id it was made with.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from vigil.errors import CryptoError

ALG_ED25519 = "ed25519"
ALG_X25519 = "x25519"
ALG_MLKEM768X25519 = "mlkem768x25519"  # reserved for hybrid encryption keys (not used yet)
KEY_ALGS: frozenset[str] = frozenset({ALG_ED25519, ALG_X25519, ALG_MLKEM768X25519})

KEY_ID_RE = re.compile(r"^(ed25519|x25519|mlkem768x25519):[0-9a-f]{32}$")
RAW_KEY_LEN = 32


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
        return Ed25519PublicKey.from_public_bytes(_check_raw(public_raw, "ed25519 public key"))
    except ValueError as e:
        raise CryptoError("bad ed25519 public key", code="crypto.bad_key") from e


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
