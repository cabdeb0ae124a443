"""Member receipts and recalls: the objects a member (or the node, for an attested share)
signs, their signatures and their shape checks. Stated in docs/protocol.md ("Receipt",
"Recall"); stored and delivered by ``vigil.node.accountability``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil import clock
from vigil.crypto.keys import SIGN_ALGS, SignPrivate, alg_of, is_key_id
from vigil.crypto.sign import TAG_RECALL, TAG_RECEIPT, sign
from vigil.errors import InputError
from vigil.protocol.header_form import MEMBER_ID_RE, SHARE_ID_RE, TIME_RE

OBJECT_VERSION = 1
RECEIVED, OPENED, RECALL_ACK = "received", "opened", "recall-ack"
WHATS = (RECEIVED, OPENED, RECALL_ACK)
RECEIPT_FIELDS = frozenset({"v", "kind", "share", "member", "what", "at", "key"})
RECALL_FIELDS = frozenset({"v", "kind", "share", "originator", "at", "key"})

# -- the signed objects ---------------------------------------------------------------

def receipt_object(share_id: str, member: str, what: str, key: str,
                   at: str | None = None) -> dict[str, Any]:
    """The receipt a member signs (tag ``vigil/receipt/v1``)."""
    return {"v": OBJECT_VERSION, "kind": "receipt", "share": share_id, "member": member,
            "what": what, "at": at or clock.now(), "key": key}


def recall_object(share_id: str, originator: str, key: str,
                  at: str | None = None) -> dict[str, Any]:
    """The recall an originator (or, for an attested share, the node) signs (tag
    ``vigil/recall/v1``)."""
    return {"v": OBJECT_VERSION, "kind": "recall", "share": share_id,
            "originator": originator, "at": at or clock.now(), "key": key}


def sign_receipt(obj: Mapping[str, Any], private: SignPrivate) -> bytes:
    return sign(TAG_RECEIPT, obj, private)


def sign_recall(obj: Mapping[str, Any], private: SignPrivate) -> bytes:
    return sign(TAG_RECALL, obj, private)


def malformed(kind: str, pointer: str, message: str) -> InputError:
    return InputError(f"malformed {kind} at {pointer}: {message}", code=f"{kind}.malformed",
                      pointer=pointer)


def _check(obj: Any, kind: str, fields: frozenset[str], who: str) -> dict[str, Any]:
    base = f"/{kind}"
    if not isinstance(obj, Mapping):
        raise malformed(kind, base, "must be an object")
    for k in obj:
        if k not in fields:
            raise malformed(kind, f"{base}/{k}", "unknown field")
    for k in sorted(fields):
        if k not in obj:
            raise malformed(kind, f"{base}/{k}", "missing field")
    v = obj["v"]
    if not isinstance(v, int) or isinstance(v, bool) or v != OBJECT_VERSION:
        raise malformed(kind, f"{base}/v", f"must be {OBJECT_VERSION}")
    if obj["kind"] != kind:
        raise malformed(kind, f"{base}/kind", f"must be {kind!r}")
    checks: list[tuple[str, Any, str]] = [
        ("share", SHARE_ID_RE, "a share id"), (who, MEMBER_ID_RE, "a member id"),
        ("at", TIME_RE, "YYYY-MM-DDTHH:MM:SS.mmmZ")]
    for name, pattern, what in checks:
        value = obj[name]
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise malformed(kind, f"{base}/{name}", f"must be {what}")
    if not is_key_id(obj["key"]) or alg_of(obj["key"]) not in SIGN_ALGS:
        raise malformed(kind, f"{base}/key", "must be an ed25519 or ed25519+mldsa65 key id")
    return dict(obj)


def check_receipt(obj: Any) -> dict[str, Any]:
    """A receipt object with exactly the fields of docs/protocol.md, or
    ``receipt.malformed`` (with the JSON pointer of the fault)."""
    r = _check(obj, "receipt", RECEIPT_FIELDS, "member")
    if r["what"] not in WHATS:
        raise malformed("receipt", "/receipt/what", "must be one of " + ", ".join(WHATS))
    return r


def check_recall(obj: Any) -> dict[str, Any]:
    """A recall object with exactly the fields of docs/protocol.md, or
    ``recall.malformed``."""
    return _check(obj, "recall", RECALL_FIELDS, "originator")
