"""Signed node-to-node messages: request signatures, batches, acks, heartbeats.

Every object is signed by a node key over ``tag || 0x00 || JCS(object)``
(``vigil.crypto.sign``), with a tag of its own, so none can be replayed as another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vigil import clock
from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import SignPrivate
from vigil.crypto.sign import sign, verify
from vigil.errors import AuthError, CryptoError, InputError, VigilError

TAG_REQUEST = "vigil/fed-request/v1"
TAG_BATCH = "vigil/fed-batch/v1"
TAG_ACK = "vigil/fed-ack/v1"
TAG_HEARTBEAT = "vigil/fed-heartbeat/v1"
HEADER = "vigil-node"
MAX_SKEW = timedelta(minutes=5)
VERSION = 1


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def body_digest(body: Any) -> str:
    return digest(canonical(body))


def body_matches(body: Any, want: str) -> bool:
    """Whether ``body``'s digest (of its JCS bytes) is ``want``. Tried first on orjson's
    sorted-key bytes, which are the JCS bytes for the usual body (no floats, ASCII keys)
    and cost no walk over the value: bytes whose SHA-256 is ``want`` are the signed JCS
    text, and both texts parse back to the value they were made of, so a match proves
    the same value. Otherwise the full JCS decides."""
    try:
        if digest(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)) == want:
            return True
    except (orjson.JSONEncodeError, TypeError):
        pass
    try:
        return body_digest(body) == want
    except VigilError:
        return False


# -- request signatures ---------------------------------------------------------------

def request_object(method: str, path: str, origin: str, dest: str, at: str,
                   body: bytes) -> dict[str, Any]:
    return {"method": method.upper(), "path": path, "origin": origin, "dest": dest,
            "at": at, "digest": digest(body)}


def sign_request(key: SignPrivate, method: str, path: str, origin: str, dest: str,
                 body: bytes) -> str:
    """The ``Vigil-Node`` header of a request."""
    at = clock.now()
    sig = sign(TAG_REQUEST, request_object(method, path, origin, dest, at, body), key)
    return f"origin={origin},dest={dest},at={at},sig={b64u(sig)}"


def parse_request_header(value: str | None) -> dict[str, str]:
    if not value:
        raise AuthError("a node request carries a Vigil-Node header",
                        code="fed.bad_request_signature")
    out: dict[str, str] = {}
    for part in value.split(","):
        k, sep, v = part.strip().partition("=")
        if not sep or k not in ("origin", "dest", "at", "sig") or k in out:
            raise AuthError("malformed Vigil-Node header", code="fed.bad_request_signature")
        out[k] = v
    if set(out) != {"origin", "dest", "at", "sig"}:
        raise AuthError("malformed Vigil-Node header", code="fed.bad_request_signature")
    return out


def check_request(fields: Mapping[str, str], method: str, path: str, body: bytes,
                  me: str, origin_key: bytes, now: datetime | None = None) -> None:
    """Check a parsed ``Vigil-Node`` header against the request and the origin's key."""
    if fields["dest"] != me:
        raise AuthError("this request is for another node", code="fed.wrong_destination")
    try:
        at = datetime.strptime(fields["at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        raise AuthError("malformed request time", code="fed.bad_request_signature") from None
    now = now or datetime.now(UTC)
    if abs(now - at) > MAX_SKEW:
        raise AuthError("the request time is too far from this node's clock",
                        code="fed.stale_request")
    obj = request_object(method, path, fields["origin"], fields["dest"], fields["at"], body)
    try:
        verify(TAG_REQUEST, obj, b64u_decode(fields["sig"]), origin_key)
    except (VigilError, ValueError):
        raise AuthError("the request signature does not verify",
                        code="fed.bad_request_signature") from None


# -- batches ----------------------------------------------------------------------------

def make_batch(key: SignPrivate, origin: str, dest: str,
               items: Sequence[tuple[int, str, Mapping[str, Any]]],
               checkpoint: str) -> dict[str, Any]:
    """A signed batch of (dseq, kind, body) items, consecutive dseqs."""
    head = {"v": VERSION, "kind": "fed-batch", "origin": origin, "dest": dest,
            "from": items[0][0] if items else 0, "to": items[-1][0] if items else 0,
            "items": [{"dseq": d, "kind": k, "digest": body_digest(b)} for d, k, b in items],
            "checkpoint": checkpoint}
    return {"batch": head, "signature": b64u(sign(TAG_BATCH, head, key)),
            "bodies": [dict(b) for _, _, b in items]}


def _need(cond: bool, why: str) -> None:
    if not cond:
        raise InputError(f"malformed batch: {why}", code="fed.bad_batch")


def parse_batch(data: bytes | Mapping[str, Any]) -> tuple[dict[str, Any], bytes, list[Any]]:
    """(signed head, signature, bodies) of a batch, checked for form only."""
    try:
        obj = orjson.loads(data) if isinstance(data, bytes) else dict(data)
    except orjson.JSONDecodeError:
        raise InputError("a batch is a JSON object", code="fed.bad_batch") from None
    _need(isinstance(obj, dict) and set(obj) == {"batch", "signature", "bodies"},
          "batch, signature and bodies")
    head, bodies = obj["batch"], obj["bodies"]
    _need(isinstance(head, dict) and isinstance(bodies, list), "batch object, bodies list")
    _need(head.get("v") == VERSION and head.get("kind") == "fed-batch", "v 1 fed-batch")
    for k in ("origin", "dest", "checkpoint"):
        _need(isinstance(head.get(k), str), f"{k} string")
    items = head.get("items")
    _need(isinstance(items, list) and len(items) == len(bodies), "one body per item")
    assert isinstance(items, list)
    for k in ("from", "to"):
        _need(isinstance(head.get(k), int) and not isinstance(head[k], bool), f"{k} integer")
    for i, it in enumerate(items):
        _need(isinstance(it, dict) and isinstance(it.get("dseq"), int)
              and isinstance(it.get("kind"), str) and isinstance(it.get("digest"), str),
              f"item {i}")
        _need(it["dseq"] == head["from"] + i, "consecutive dseqs from `from`")
    if items:
        _need(head["to"] == items[-1]["dseq"], "`to` is the last dseq")
    try:
        sig = b64u_decode(obj["signature"])
    except (ValueError, TypeError):
        raise InputError("malformed batch signature", code="fed.bad_batch") from None
    return head, sig, bodies


def verify_batch(head: Mapping[str, Any], signature: bytes, origin_key: bytes) -> None:
    try:
        verify(TAG_BATCH, head, signature, origin_key)
    except CryptoError:
        raise CryptoError("the batch signature does not verify",
                          code="fed.bad_batch_signature") from None


# -- acks and heartbeats ----------------------------------------------------------------

def make_signed(key: SignPrivate, tag: str, name: str, obj: Mapping[str, Any]
                ) -> dict[str, Any]:
    return {name: dict(obj), "signature": b64u(sign(tag, obj, key))}


def make_ack(key: SignPrivate, origin: str, dest: str, cursor: int,
             quarantined: Sequence[int]) -> dict[str, Any]:
    return make_signed(key, TAG_ACK, "ack", {
        "v": VERSION, "kind": "fed-ack", "origin": origin, "dest": dest, "cursor": cursor,
        "quarantined": list(quarantined), "at": clock.now()})


def open_signed(data: Mapping[str, Any], tag: str, name: str, key: bytes) -> dict[str, Any]:
    """The object of a signed message once its signature verifies."""
    obj = data.get(name)
    if not isinstance(obj, dict):
        raise InputError(f"malformed {name}", code="fed.bad_item")
    try:
        verify(tag, obj, b64u_decode(str(data.get("signature", ""))), key)
    except (VigilError, ValueError):
        raise CryptoError(f"the {name} signature does not verify",
                          code="fed.bad_batch_signature") from None
    return obj
