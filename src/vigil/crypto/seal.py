"""Sealing a share's payload to its recipients.

One content key ``K`` (32 random bytes) per share:

* payload: ``stored = nonce(12) || AES-256-GCM(K, nonce, plaintext,
  aad = b"vigil/payload/v1\\0" + share_id)``;
* one wrap per recipient: ``blob = HPKE.seal(pk_r, K, info = b"vigil/wrap/v1\\0" +
  share_id + b"\\0" + member_id + b"\\0" + key_id)`` in RFC 9180 base mode, in the
  suite of the recipient key's algorithm (:mod:`vigil.crypto.kem`): ``x25519`` keys get
  DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM (``blob`` = ``enc`` 32 bytes
  || ciphertext 48 bytes), ``mlkem768x25519`` keys MLKEM768-X25519 / HKDF-SHA256 /
  AES-256-GCM (``enc`` 1120 || 48);
* the header's ``seal.suite`` is :data:`SUITE_HYBRID` when every wrap is hybrid and
  :data:`SUITE` otherwise (one classical wrap exposes the content key to a quantum
  adversary, so the share is only as strong as its weakest wrap);
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
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u
from vigil.crypto.kem import ALG_MLKEM768X25519, ALG_X25519, blob_len, hpke_open, hpke_seal
from vigil.crypto.keys import ENC_ALGS, EncPrivate, alg_of, enc_key_id, is_key_id
from vigil.crypto.keys import key_id as _key_id
from vigil.errors import CryptoError
from vigil.model import Wrap

SUITE = "hpke-x25519-sha256-aes128gcm+aes256gcm"
SUITE_HYBRID = "hpke-mlkem768x25519-sha256-aes256gcm+aes256gcm"
SEAL_SUITES: frozenset[str] = frozenset({SUITE, SUITE_HYBRID})
PAYLOAD_AAD_PREFIX = b"vigil/payload/v1\0"
WRAP_INFO_PREFIX = b"vigil/wrap/v1\0"
KEY_LEN = 32
NONCE_LEN = 12
TAG_LEN = 16
WRAP_BLOB_LENS: dict[str, int] = {alg: blob_len(alg, KEY_LEN) for alg in ENC_ALGS}
WRAP_BLOB_LEN = WRAP_BLOB_LENS[ALG_X25519]  # 80: HPKE enc || AES-128-GCM(K)
# Payloads from this size on are encrypted and decrypted piece by piece (the same
# AES-256-GCM, the same bytes): one call over tens of MiB holds the interpreter lock
# for a tenth of a second or more, and every other request of the process waits.
PIECE = 1 << 20


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
    aad = payload_aad(share_id)
    if len(plaintext) < 2 * PIECE:
        return n + AESGCM(k).encrypt(n, bytes(plaintext), aad), k
    enc = Cipher(algorithms.AES(k), modes.GCM(n)).encryptor()
    enc.authenticate_additional_data(aad)
    view = memoryview(plaintext)
    out = [n]
    for at in range(0, len(view), PIECE):
        out.append(enc.update(view[at:at + PIECE]))
    out += [enc.finalize(), enc.tag]
    return b"".join(out), k


def open_payload(share_id: str, stored: bytes, key: bytes) -> bytes:
    """Decrypt ``stored = nonce || ciphertext`` sealed for ``share_id`` under ``key``."""
    aad = payload_aad(share_id)
    if len(key) != KEY_LEN or len(stored) < NONCE_LEN + TAG_LEN:
        raise CryptoError("sealed payload cannot be opened", code="crypto.open_failed")
    view = memoryview(stored)
    try:
        if len(view) < 2 * PIECE:
            return AESGCM(bytes(key)).decrypt(view[:NONCE_LEN], view[NONCE_LEN:], aad)
        end = len(view) - TAG_LEN
        dec = Cipher(algorithms.AES(bytes(key)),
                     modes.GCM(bytes(view[:NONCE_LEN]), bytes(view[end:]))).decryptor()
        dec.authenticate_additional_data(aad)
        out = [dec.update(view[at:min(at + PIECE, end)])
               for at in range(NONCE_LEN, end, PIECE)]
        out.append(dec.finalize())  # checks the tag: nothing is returned before
        return b"".join(out)
    except InvalidTag as e:
        raise CryptoError("sealed payload cannot be opened", code="crypto.open_failed") from e


def enc_key_alg(key_id: object) -> str:
    """The algorithm of a recipient key id (``crypto.bad_key`` if not one)."""
    if not is_key_id(key_id) or alg_of(str(key_id)) not in ENC_ALGS:
        raise CryptoError(f"not an encryption key id: {key_id!r}", code="crypto.bad_key")
    return alg_of(str(key_id))


def wrap_well_formed(wrap: Wrap) -> bool:
    """True if the wrap names a recipient key id and its blob has that suite's length."""
    return (is_key_id(wrap.key) and alg_of(wrap.key) in ENC_ALGS
            and len(wrap.blob) == WRAP_BLOB_LENS[alg_of(wrap.key)])


def seal_suite(wraps: Iterable[Wrap]) -> str:
    """:data:`SUITE_HYBRID` if there are wraps and every one is hybrid, else :data:`SUITE`."""
    algs = {alg_of(w.key) for w in wraps}
    return SUITE_HYBRID if algs == {ALG_MLKEM768X25519} else SUITE


def wrap_key(
    share_id: str, key: bytes, member_id: str, key_id: str, public_raw: bytes
) -> Wrap:
    """Wrap the content key ``key`` for one recipient's public key, in the suite its key
    id names (``x25519`` or ``mlkem768x25519``).

    ``key_id`` must be the id of ``public_raw`` (``crypto.key_mismatch``).
    """
    if len(key) != KEY_LEN:
        raise CryptoError("content key must be 32 bytes", code="crypto.bad_key")
    alg = enc_key_alg(key_id)
    if _key_id(alg, public_raw) != key_id:
        raise CryptoError(
            f"key id {key_id!r} does not name the given {alg} key", code="crypto.key_mismatch"
        )
    blob = hpke_seal(alg, public_raw, bytes(key), wrap_info(share_id, member_id, key_id))
    return Wrap(member=member_id, key=key_id, blob=blob)


def unwrap_key(share_id: str, wrap: Wrap, private: EncPrivate) -> bytes:
    """Recover the content key from ``wrap`` with the recipient's private key."""
    info = wrap_info(share_id, wrap.member, wrap.key)
    if enc_key_id(private) != wrap.key:
        raise CryptoError("wrap is for another key", code="crypto.open_failed")
    k = hpke_open(bytes(wrap.blob), private, info)
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
