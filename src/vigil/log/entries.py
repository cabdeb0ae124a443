"""What a node's log records: one canonical JSON object per leaf.

Every leaf is ``JCS(entry)`` (RFC 8785), an object with ``"v": 1``, a ``"kind"`` and
the fields of that kind. Entries hold digests and ids, never payloads, so the log
outlives retention and recall. Each entry names the members who may see it in full
(:meth:`vigil.policy.access.Access.log_entry` decides, from the fields here); everyone
else sees only its leaf hash, which is all a proof needs.

Kinds (docs/protocol.md, "Log entries"):

* ``share``: ``share``, ``originator``, ``to`` (the sorted recipients), ``expires``,
  ``header``
  (``sha256:`` of JCS of the signed header) and ``signature`` (b64u). A recipient
  rebuilds it from the envelope alone, so an entry of share X never verifies for Y.
* ``channel``: ``channel``, ``member``, ``event`` (create/join/leave), ``actor``, ``at``.
* ``member``: ``member``, ``event`` (add/activate/deactivate), ``sign_key``,
  ``enc_key``, ``at`` (key events).
* ``receipt``: ``share``, ``originator``, ``member``, ``receipt`` (the signed receipt
  object) and ``signature`` (b64u, by the member, tag ``vigil/receipt/v1``).
* ``recall``: ``share``, ``originator``, ``to``, ``recall`` (the signed object) and
  ``signature`` (tag ``vigil/recall/v1``; by the originator's key or, for attested
  shares, the node's).
* ``purge``: ``share``, ``originator``, ``to``, ``at`` -- retention removed the payload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u
from vigil.model import Envelope

ENTRY_VERSION = 1


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def share_entry(env: Envelope, header_jcs: bytes | None = None) -> dict[str, Any]:
    """``header_jcs``: ``canonical(env.header)``, when the caller made it already."""
    h = env.header
    return {
        "v": ENTRY_VERSION,
        "kind": "share",
        "share": env.id,
        "originator": env.originator,
        "to": list(h["audience"]["recipients"]),
        "expires": h.get("expires"),
        "header": digest(canonical(h) if header_jcs is None else header_jcs),
        "signature": b64u(env.signature),
    }


def channel_entry(channel_id: str, member_id: str, event: str, actor: str,
                  at: str) -> dict[str, Any]:
    return {"v": ENTRY_VERSION, "kind": "channel", "channel": channel_id,
            "member": member_id, "event": event, "actor": actor, "at": at}


def member_entry(member_id: str, event: str, sign_key: str, enc_key: str,
                 at: str) -> dict[str, Any]:
    return {"v": ENTRY_VERSION, "kind": "member", "member": member_id, "event": event,
            "sign_key": sign_key, "enc_key": enc_key, "at": at}


def receipt_entry(receipt: Mapping[str, Any], originator: str,
                  signature: bytes) -> dict[str, Any]:
    return {"v": ENTRY_VERSION, "kind": "receipt", "share": receipt["share"],
            "originator": originator, "member": receipt["member"],
            "receipt": dict(receipt), "signature": b64u(signature)}


def recall_entry(recall: Mapping[str, Any], to: Sequence[str],
                 signature: bytes) -> dict[str, Any]:
    return {"v": ENTRY_VERSION, "kind": "recall", "share": recall["share"],
            "originator": recall["originator"], "to": list(to),
            "recall": dict(recall), "signature": b64u(signature)}


def purge_entry(share_id: str, originator: str, to: Sequence[str], at: str) -> dict[str, Any]:
    return {"v": ENTRY_VERSION, "kind": "purge", "share": share_id,
            "originator": originator, "to": list(to), "at": at}


def entry_bytes(entry: Mapping[str, Any]) -> bytes:
    """The leaf data of an entry."""
    return canonical(entry)


def share_of(entry: Mapping[str, Any]) -> str | None:
    share = entry.get("share")
    return share if isinstance(share, str) else None
