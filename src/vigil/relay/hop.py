"""A sealed hop: the origin's signed batch, padded and sealed to the destination.

``blob = HPKE.seal(dest hop key, pad(u32 length || batch), info)`` with the base-mode
suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM and
``info = "vigil/hop/v1" || 0x00 || destination node id``. The padded plaintext is sized
so the blob is exactly a bucket: a power of two, at least 4 KiB, so the relay learns
only the bucket. The origin is *inside* (the batch names and signs it), not in ``info``
nor in the outer header: the relay must not learn who sends. The outer header is
``{dest, hop_id (16 random bytes, base64url), expires}``, nothing else.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from vigil import clock
from vigil.crypto.encoding import b64u
from vigil.crypto.kem import ALG_X25519, EncPrivate, hpke_open, hpke_seal
from vigil.errors import CryptoError, InputError

MIN_BUCKET = 4096
MAX_BUCKET = 8 << 20
OVERHEAD = 32 + 16  # X25519 enc + AES-GCM tag
TAG_HOP = b"vigil/hop/v1\0"
HEADER = "vigil-hop"
HOP_TTL = timedelta(hours=24)

__all__ = ["HEADER", "Hop", "bucket_for", "open_hop", "seal_hop"]


def bucket_for(batch_len: int) -> int:
    need = batch_len + 4 + OVERHEAD
    size = MIN_BUCKET
    while size < need:
        size <<= 1
    if size > MAX_BUCKET:
        raise InputError("a batch too large to relay", code="relay.too_large")
    return size


def is_bucket(n: int) -> bool:
    return MIN_BUCKET <= n <= MAX_BUCKET and n & (n - 1) == 0


def _info(dest: str) -> bytes:
    return TAG_HOP + dest.encode("utf-8")


@dataclass(frozen=True, slots=True)
class Hop:
    dest: str
    hop_id: str
    expires: str
    blob: bytes

    def header(self) -> dict[str, str]:
        return {"dest": self.dest, "hop_id": self.hop_id, "expires": self.expires}

    def header_value(self) -> str:
        """The outer header as one HTTP header value (``Vigil-Hop``)."""
        return ",".join(f"{k}={v}" for k, v in self.header().items())

    @classmethod
    def from_header(cls, value: str | None, blob: bytes) -> Hop:
        """The hop of a ``Vigil-Hop`` header value and its body (``relay.bad_hop``)."""
        fields: dict[str, str] = {}
        for part in (value or "").split(","):
            k, sep, v = part.strip().partition("=")
            if not sep or k not in ("dest", "hop_id", "expires") or k in fields:
                raise InputError("malformed Vigil-Hop header", code="relay.bad_hop")
            fields[k] = v
        if len(fields) != 3:
            raise InputError("malformed Vigil-Hop header", code="relay.bad_hop")
        return cls(fields["dest"], fields["hop_id"], fields["expires"], blob)


def seal_hop(batch: bytes, dest: str, dest_hop_key: bytes) -> Hop:
    bucket = bucket_for(len(batch))
    plain = struct.pack(">I", len(batch)) + batch
    plain += bytes(bucket - OVERHEAD - len(plain))
    blob = hpke_seal(ALG_X25519, dest_hop_key, plain, _info(dest))
    assert len(blob) == bucket
    expires = clock.fmt(datetime.now(UTC) + HOP_TTL)
    return Hop(dest, b64u(os.urandom(16)), expires, blob)


def open_hop(blob: bytes, dest: str, hop_key: EncPrivate) -> bytes:
    """The batch inside a hop sealed to this node (``relay.bad_hop`` otherwise)."""
    if not is_bucket(len(blob)):
        raise CryptoError("a hop is not a bucket size", code="relay.bad_hop")
    try:
        plain = hpke_open(blob, hop_key, _info(dest))
    except CryptoError as e:
        raise CryptoError("the hop does not open with this node's hop key",
                          code="relay.bad_hop") from e
    (n,) = struct.unpack(">I", plain[:4])
    if n > len(plain) - 4 or any(plain[4 + n:]):
        raise CryptoError("bad hop padding", code="relay.bad_hop")
    return plain[4:4 + n]
