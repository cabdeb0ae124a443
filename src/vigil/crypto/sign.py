"""Domain-separated signatures over canonical JSON, in either signing suite.

The signed bytes are ``tag || 0x00 || JCS(obj)`` where ``tag`` names the kind of
object and its version (``vigil/share/v1`` …), so a signature over one kind of object
can never be presented as a signature over another. The key decides the suite: Ed25519
(64-byte signatures) or the ``ed25519+mldsa65`` composite (3373 bytes, both halves
must verify; :mod:`vigil.crypto.composite`).
"""

from __future__ import annotations

import re
from typing import Any

from cryptography.exceptions import InvalidSignature

from vigil.crypto.canonical import canonical
from vigil.crypto.keys import SIGNATURE_LENS, SignPrivate, sign_alg_of_public, verify_raw
from vigil.errors import CryptoError

TAG_SHARE = "vigil/share/v1"
TAG_RECEIPT = "vigil/receipt/v1"
TAG_RECALL = "vigil/recall/v1"
TAG_CHECKPOINT = "vigil/checkpoint/v1"
TAG_ATTEST = "vigil/attest/v1"
TAG_KEY_EVENT = "vigil/key/v1"
TAG_MEMBERSHIP = "vigil/membership/v1"

TAG_RE = re.compile(r"^vigil/[a-z][a-z0-9-]*/v[1-9][0-9]*$")
SIGNATURE_LEN = 64


def _check_tag(tag: str) -> bytes:
    if not isinstance(tag, str) or not TAG_RE.fullmatch(tag):
        raise CryptoError(f"bad signature tag {tag!r}", code="crypto.bad_tag")
    return tag.encode("ascii")


def signed_bytes(tag: str, obj: Any) -> bytes:
    """The exact bytes signed: ``tag.encode() + b"\\0" + canonical(obj)``.

    ``tag`` must match ``vigil/<kind>/v<n>`` (lower-case kind of ``[a-z0-9-]``), so
    it never contains the 0x00 separator.
    """
    return _check_tag(tag) + b"\0" + canonical(obj)


def sign(tag: str, obj: Any, private: SignPrivate) -> bytes:
    """The signature of ``private``'s suite over ``signed_bytes(tag, obj)``."""
    return private.sign(signed_bytes(tag, obj))


def verify(tag: str, obj: Any, signature: bytes, public_raw: bytes) -> None:
    """Check a signature made by :func:`sign`; raise ``crypto.bad_signature`` if wrong.

    The suite is the public key's: a 32-byte Ed25519 key or a 1984-byte composite key,
    whose signature must carry both halves, each valid. A malformed public key raises
    ``crypto.bad_key``.
    """
    alg = sign_alg_of_public(public_raw)
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_LENS[alg]:
        raise CryptoError(f"not a {alg} signature", code="crypto.bad_signature")
    try:
        body = canonical(obj)
    except CryptoError as e:
        raise CryptoError(
            f"signed object is not canonical JSON: {e.message}", code="crypto.bad_signature"
        ) from e
    verify_canonical(tag, body, signature, public_raw)


def verify_canonical(tag: str, body: bytes, signature: bytes, public_raw: bytes) -> None:
    """:func:`verify` of an object whose JCS bytes the caller made already (``body``:
    ``canonical(obj)``, for a caller that needs them for more than the signature)."""
    alg = sign_alg_of_public(public_raw)
    if not isinstance(signature, bytes | bytearray) or len(signature) != SIGNATURE_LENS[alg]:
        raise CryptoError(f"not a {alg} signature", code="crypto.bad_signature")
    data = _check_tag(tag) + b"\0" + body
    try:
        verify_raw(public_raw, bytes(signature), data)
    except InvalidSignature as e:
        raise CryptoError(f"bad {tag} signature", code="crypto.bad_signature") from e


# Generic names for receipts, recalls, checkpoints and other small signed objects.
sign_object = sign
verify_object = verify
