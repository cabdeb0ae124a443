"""Sealing a share's payload to its recipients.

One content key ``K`` (32 random bytes) per share:

* payload: ``stored = nonce(12) || AES-256-GCM(K, nonce, plaintext,
  aad = b"vigil/payload/v1\\0" + share_id)``;
* one wrap per recipient: ``blob = HPKE.seal(pk_r, K, info = b"vigil/wrap/v1\\0" +
  share_id + b"\\0" + member_id + b"\\0" + key_id)`` in RFC 9180 base mode with
  DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM; ``blob`` is the HPKE
  ``enc`` (32 bytes) followed by the ciphertext (48 bytes);
* ``wraps_digest = "sha256:" + sha256(JCS([{member, key, blob: base64url}, …]
  sorted by member))``.

The AAD and info bind ciphertexts to their share and recipient: a payload moved to
another share id, or a wrap moved to another share, member or key id, fails to open.
Every failure to open raises ``CryptoError(code="crypto.open_failed")``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u
from vigil.crypto.keys import ALG_X25519, x25519_public
from vigil.crypto.keys import key_id as _key_id
from vigil.crypto.keys import x25519_public_raw as _x25519_public_raw
from vigil.errors import CryptoError
from vigil.model import Wrap

SUITE = "hpke-x25519-sha256-aes128gcm+aes256gcm"
PAYLOAD_AAD_PREFIX = b"vigil/payload/v1\0"
WRAP_INFO_PREFIX = b"vigil/wrap/v1\0"
KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
WRAP_BLOB_LEN = 32 + KEY_LEN + TAG_LEN  # HPKE enc || AES-128-GCM(K)

_HPKE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


def _part(value: str, what: str) -> bytes:
    if not isinstance(value, str) or not value or "\0" in value:
        raise CryptoError(
            f"{what} must be a non-empty string without NUL", code="crypto.bad_context"
        )
    return value.encode("utf-8")


def payload_aad(share_id: str) -> bytes:
    """``b"vigil/payload/v1\\0" + share_id`` (UTF-8)."""
    return PAYLOAD_AAD_PREFIX + _part(share_id, "share id")


def wrap_info(share_id: str, member_id: str, key_id: str) -> bytes:
    """``b"vigil/wrap/v1\\0" + share_id + b"\\0" + member_id + b"\\0" + key_id`` (UTF-8)."""
    return (
        WRAP_INFO_PREFIX
        + _part(share_id, "share id")
        + b"\0"
        + _part(member_id, "member id")
        + b"\0"
        + _part(key_id, "key id")
    )


def seal_payload(
    share_id: str,
    plaintext: bytes,
    *,
    key: bytes | None = None,
    nonce: bytes | None = None,
) -> tuple[bytes, bytes]:
    """Encrypt a payload; return ``(stored, K)`` with ``stored = nonce || ciphertext``.

    ``key`` and ``nonce`` default to fresh random values; pass them only to reproduce
    test vectors (reusing a (key, nonce) pair for two plaintexts breaks AES-GCM).
    """
    k = os.urandom(KEY_LEN) if key is None else bytes(key)
    n = os.urandom(NONCE_LEN) if nonce is None else bytes(nonce)
    if len(k) != KEY_LEN or len(n) != NONCE_LEN:
        raise CryptoError("content key must be 32 bytes and nonce 12", code="crypto.bad_key")
    ct = AESGCM(k).encrypt(n, bytes(plaintext), payload_aad(share_id))
    return n + ct, k


def open_payload(share_id: str, stored: bytes, key: bytes) -> bytes:
    """Decrypt ``stored = nonce || ciphertext`` sealed for ``share_id`` under ``key``."""
    aad = payload_aad(share_id)
    if len(key) != KEY_LEN or len(stored) < NONCE_LEN + TAG_LEN:
        raise CryptoError("sealed payload cannot be opened", code="crypto.open_failed")
    view = memoryview(stored)
    try:
        return AESGCM(bytes(key)).decrypt(view[:NONCE_LEN], view[NONCE_LEN:], aad)
    except InvalidTag as e:
        raise CryptoError("sealed payload cannot be opened", code="crypto.open_failed") from e


def wrap_key(
    share_id: str, key: bytes, member_id: str, key_id: str, x25519_public_raw: bytes
) -> Wrap:
    """Wrap the content key ``key`` for one recipient's X25519 public key.

    ``key_id`` must be the id of ``x25519_public_raw`` (``crypto.key_mismatch``).
    """
    if len(key) != KEY_LEN:
        raise CryptoError("content key must be 32 bytes", code="crypto.bad_key")
    public = x25519_public(x25519_public_raw)
    if _key_id(ALG_X25519, x25519_public_raw) != key_id:
        raise CryptoError(
            f"key id {key_id!r} does not name the given x25519 key", code="crypto.key_mismatch"
        )
    blob = _HPKE.encrypt(bytes(key), public, info=wrap_info(share_id, member_id, key_id))
    return Wrap(member=member_id, key=key_id, blob=blob)


def unwrap_key(share_id: str, wrap: Wrap, x25519_private: X25519PrivateKey) -> bytes:
    """Recover the content key from ``wrap`` with the recipient's private key."""
    info = wrap_info(share_id, wrap.member, wrap.key)
    if _key_id(ALG_X25519, _x25519_public_raw(x25519_private)) != wrap.key:
        raise CryptoError("wrap is for another key", code="crypto.open_failed")
    try:
        k = _HPKE.decrypt(bytes(wrap.blob), x25519_private, info=info)
    except (InvalidTag, ValueError) as e:
        raise CryptoError("wrapped key cannot be opened", code="crypto.open_failed") from e
    if len(k) != KEY_LEN:
        raise CryptoError("wrapped key has the wrong length", code="crypto.open_failed")
    return k


def wraps_json(wraps: Iterable[Wrap]) -> list[dict[str, str]]:
    """The wraps as JSON, sorted by (member, key): ``[{member, key, blob: base64url}]``."""
    ordered = sorted(wraps, key=lambda w: (w.member, w.key, w.blob))
    return [{"member": w.member, "key": w.key, "blob": b64u(w.blob)} for w in ordered]


def wraps_digest(wraps: Iterable[Wrap]) -> str:
    """``"sha256:" + hex(sha256(JCS(wraps_json(wraps))))``."""
    return "sha256:" + hashlib.sha256(canonical(wraps_json(wraps))).hexdigest()
