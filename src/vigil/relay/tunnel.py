"""A node-to-node request carried through a relay, and its answer, both sealed hops.

The origin A puts its whole request -- method, path, its ``Vigil-Node`` signature and
content type, body -- in one frame and seals it to the destination B
(:func:`vigil.relay.hop.seal_hop`: padded to a bucket, HPKE to B's hop key). The frame
names A (so that B knows whose hop key seals the answer) and carries a random nonce; B
answers with a frame holding that nonce, the status, the content type and the body,
sealed and padded the same way to A's hop key. The relay in between sees two blobs of
bucket sizes and the time between them.

A frame is ``u32 length || JSON head || body``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Any

import orjson

from vigil.crypto.encoding import b64u
from vigil.crypto.kem import EncPrivate
from vigil.errors import CryptoError
from vigil.relay.hop import Hop, open_hop, seal_hop

VERSION = 1
# the request headers that travel inside (the signature and the body's type); no other
HEADERS = ("vigil-node", "content-type")

__all__ = ["Inner", "open_reply", "open_request", "seal_reply", "seal_request"]


@dataclass(frozen=True, slots=True)
class Inner:
    """A request as the destination opens it from a hop."""

    origin: str
    nonce: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _frame(head: dict[str, Any], body: bytes) -> bytes:
    raw = orjson.dumps(head)
    return struct.pack(">I", len(raw)) + raw + body


def _unframe(frame: bytes) -> tuple[dict[str, Any], bytes]:
    bad = CryptoError("a malformed relayed frame", code="relay.bad_hop")
    if len(frame) < 4:
        raise bad
    (n,) = struct.unpack(">I", frame[:4])
    if n > len(frame) - 4:
        raise bad
    try:
        head = orjson.loads(frame[4:4 + n])
    except orjson.JSONDecodeError:
        raise bad from None
    if not isinstance(head, dict) or head.get("v") != VERSION:
        raise bad
    return head, frame[4 + n:]


def seal_request(origin: str, dest: str, dest_hop_key: bytes, method: str, path: str,
                 headers: dict[str, str], body: bytes) -> tuple[Hop, str]:
    """The hop carrying a request from ``origin`` to ``dest``, and its nonce (which the
    answer must hold)."""
    nonce = b64u(os.urandom(16))
    head = {"v": VERSION, "origin": origin, "nonce": nonce, "method": method, "path": path,
            "headers": {k: v for k, v in headers.items() if k in HEADERS}}
    return seal_hop(_frame(head, body), dest, dest_hop_key), nonce


def open_request(blob: bytes, me: str, hop_key: EncPrivate) -> Inner:
    """The request inside a hop sealed to this node (``relay.bad_hop`` otherwise)."""
    head, body = _unframe(open_hop(blob, me, hop_key))
    fields = (head.get("origin"), head.get("nonce"), head.get("method"), head.get("path"))
    headers = head.get("headers")
    if not all(isinstance(f, str) for f in fields) or not isinstance(headers, dict) or \
            not all(isinstance(k, str) and isinstance(v, str) and k in HEADERS
                    for k, v in headers.items()):
        raise CryptoError("a malformed relayed request", code="relay.bad_hop")
    return Inner(str(head["origin"]), str(head["nonce"]), str(head["method"]),
                 str(head["path"]), dict(headers), body)


def seal_reply(inner: Inner, origin_hop_key: bytes, status: int, content_type: str,
               body: bytes) -> bytes:
    """The blob answering ``inner``, sealed to its origin."""
    head = {"v": VERSION, "nonce": inner.nonce, "status": status, "type": content_type}
    return seal_hop(_frame(head, body), inner.origin, origin_hop_key).blob


def open_reply(blob: bytes, me: str, hop_key: EncPrivate, nonce: str
               ) -> tuple[int, str, bytes]:
    """(status, content type, body) of the answer to the request sent with ``nonce``."""
    head, body = _unframe(open_hop(blob, me, hop_key))
    status, ctype = head.get("status"), head.get("type")
    if head.get("nonce") != nonce or not isinstance(status, int) or \
            not isinstance(ctype, str):
        raise CryptoError("a relayed answer to another request", code="relay.bad_hop")
    return status, ctype, body
