"""base64url without padding (RFC 4648 §5), decoded strictly."""

from __future__ import annotations

import base64
import binascii

_TO_STD = bytes.maketrans(b"-_", b"+/")


def b64u(data: bytes) -> str:
    """Encode as base64url without ``=`` padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    """Decode base64url without padding; raise ``ValueError`` unless ``text`` is the
    one canonical encoding of its bytes (alphabet ``A-Za-z0-9-_`` only: no padding,
    no whitespace, no non-zero unused bits in the last character)."""
    if not isinstance(text, str) or not text.isascii() or len(text) % 4 == 1:
        raise ValueError("not base64url without padding")
    raw = text.encode("ascii")
    if b"+" in raw or b"/" in raw or b"=" in raw:
        raise ValueError("not base64url without padding")
    try:
        data = base64.b64decode(raw.translate(_TO_STD) + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error as e:
        raise ValueError("not base64url without padding") from e
    tail = len(text) % 4
    if tail and b64u(data[-(tail - 1) :]) != text[-tail:]:
        raise ValueError("non-canonical base64url")
    return data
