"""A node-to-node request carried through a relay, and its answer, both sealed hops.

The origin A puts its whole request -- method, path, its ``Vigil-Node`` signature and
content type, body -- in one frame and seals it to the destination B
(:func:`vigil.relay.hop.seal_hop`: padded to a bucket, HPKE to B's hop key). The frame
names A (so that B knows whose hop key seals the answer) and carries a random nonce; B
answers with a frame holding that nonce, the status, the content type and the body,
sealed and padded the same way to A's hop key. The answer does not return on the
request's connection: B queues it and sends its answers to each relay in one batch at
fixed ticks (:mod:`vigil.relay.receipts`), which the relay passes on to their origins;
what the relay sees of the answers follows the ticks, not the requests.

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

__all__ = ["Inner", "open_any_reply", "open_reply", "open_request", "pack_hops", "seal_reply",
           "seal_request", "unpack_hops"]


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
               body: bytes) -> Hop:
    """The hop answering ``inner``, sealed to its origin."""
    head = {"v": VERSION, "nonce": inner.nonce, "status": status, "type": content_type}
    return seal_hop(_frame(head, body), inner.origin, origin_hop_key)


def open_any_reply(blob: bytes, me: str, hop_key: EncPrivate
                   ) -> tuple[str, int, str, bytes]:
    """(nonce, status, content type, body) of an answer sealed to this node."""
    head, body = _unframe(open_hop(blob, me, hop_key))
    nonce, status, ctype = head.get("nonce"), head.get("status"), head.get("type")
    if not isinstance(nonce, str) or not isinstance(status, int) or \
            not isinstance(ctype, str):
        raise CryptoError("a malformed relayed answer", code="relay.bad_hop")
    return nonce, status, ctype, body


def open_reply(blob: bytes, me: str, hop_key: EncPrivate, nonce: str
               ) -> tuple[int, str, bytes]:
    """(status, content type, body) of the answer to the request sent with ``nonce``."""
    got, status, ctype, body = open_any_reply(blob, me, hop_key)
    if got != nonce:
        raise CryptoError("a relayed answer to another request", code="relay.bad_hop")
    return status, ctype, body


def pack_hops(hops: list[Hop]) -> bytes:
    """Several hops in one body (a batch of answers): their outer headers, then blobs."""
    head = {"v": VERSION, "hops": [{**h.header(), "size": len(h.blob)} for h in hops]}
    return _frame(head, b"".join(h.blob for h in hops))


def unpack_hops(body: bytes) -> list[Hop]:
    """The hops of :func:`pack_hops` (``relay.bad_hop`` for anything malformed)."""
    head, rest = _unframe(body)
    items = head.get("hops")
    bad = CryptoError("a malformed batch of hops", code="relay.bad_hop")
    if not isinstance(items, list):
        raise bad
    out, at = [], 0
    for h in items:
        if not isinstance(h, dict) or not all(isinstance(h.get(k), str) for k in
                                              ("dest", "hop_id", "expires")):
            raise bad
        size = h.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or \
                at + size > len(rest):
            raise bad
        out.append(Hop(h["dest"], h["hop_id"], h["expires"], rest[at:at + size]))
        at += size
    if at != len(rest):
        raise bad
    return out
