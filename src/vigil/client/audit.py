"""`vigil log verify`: a member audits a node's log over the API.

The audit takes the node's latest checkpoint (accepted only if it extends the one the
member accepted before), fetches every leaf hash and rebuilds the root, then checks
each entry the member may see in full:

* its leaf hash is the hash of the entry shown (the node cannot show one entry and
  have logged another);
* a share entry matches the share the node serves (header digest and signature) and
  the signature verifies under the originator's (or, attested, the node's) key;
* receipts and recalls carry valid signatures of their signers;
* **gaps**: every share addressed to this member that is in the log, neither recalled,
  purged nor expired, is in the member's inbox. One that is not was silently dropped.

What the audit cannot see: entries the member may not see show only their leaf hash,
so a node that hid an entry addressed to this member *as if it were someone else's*
is caught by the originator (who sees its own entries) and by receipts, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vigil import clock
from vigil.crypto.encoding import b64u_decode
from vigil.crypto.sign import verify
from vigil.errors import CryptoError, VigilError
from vigil.log.entries import entry_bytes, share_entry
from vigil.log.merkle import leaf_hash, root_from_leaves

if TYPE_CHECKING:
    from vigil.client import Client

PAGE = 10_000
TAG_RECEIPT = "vigil/receipt/v1"
TAG_RECALL = "vigil/recall/v1"


@dataclass
class AuditReport:
    size: int = 0
    root_ok: bool = False
    first_use: bool = False
    entries: int = 0
    visible: int = 0
    shares_checked: int = 0
    signatures_checked: int = 0
    undelivered: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.root_ok and not self.undelivered and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "size": self.size, "root_ok": self.root_ok,
                "first_use": self.first_use, "entries": self.entries,
                "visible": self.visible, "shares_checked": self.shares_checked,
                "signatures_checked": self.signatures_checked,
                "undelivered": self.undelivered, "problems": self.problems}


def audit(client: Client, *, start: int = 0, end: int | None = None,
          fetch_shares: bool = True,
          progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Audit entries ``[start, end)`` of the node's log as the client's member."""
    report = AuditReport()
    verifier = client.log_verifier()
    cp = client.checkpoint()
    report.size, report.first_use = cp.size, verifier.first_use
    stop = cp.size if end is None else min(end, cp.size)
    me = client.me()["member"]["id"]
    leaves: list[bytes] = []
    visible: list[tuple[int, dict[str, Any]]] = []
    pos = 0
    while pos < cp.size:
        doc = client._call("GET", "/api/v1/log/entries",
                           params={"start": pos, "end": min(pos + PAGE, cp.size)})
        for item in doc["entries"]:
            if item["index"] != len(leaves):
                report.problems.append({"index": item["index"], "problem": "out of order"})
                return report
            lh = b64u_decode(item["leaf_hash"])
            leaves.append(lh)
            entry = item.get("entry")
            if entry is not None:
                if leaf_hash(entry_bytes(entry)) != lh:
                    report.problems.append({"index": item["index"],
                                            "problem": "entry does not match its leaf hash"})
                elif start <= item["index"] < stop:
                    visible.append((item["index"], entry))
        if not doc["entries"]:
            break
        pos = len(leaves)
        if progress is not None:
            progress(pos, cp.size)
    report.entries = len(leaves)
    report.root_ok = len(leaves) == cp.size and root_from_leaves(leaves) == cp.root
    if not report.root_ok:
        report.problems.append({"problem": "the entries do not hash to the checkpoint root"})
    report.visible = len(visible)

    closed: set[str] = set()
    for _, e in visible:
        if e.get("kind") in ("recall", "purge"):
            closed.add(str(e.get("share")))
    delivered = {item["share_id"] for item in _inbox(client)}
    now = clock.now()
    for index, e in visible:
        kind = e.get("kind")
        try:
            if kind == "share":
                _check_share(client, index, e, report, fetch_shares)
                expires = e.get("expires")
                if (me in e.get("to", []) and e["share"] not in closed
                        and e["share"] not in delivered
                        and not (expires is not None and str(expires) <= now)):
                    report.undelivered.append(str(e["share"]))
            elif kind == "receipt":
                m = client.member(str(e["member"]))
                verify(TAG_RECEIPT, e["receipt"], b64u_decode(e["signature"]),
                       b64u_decode(m["sign_key"]["public"]))
                report.signatures_checked += 1
            elif kind == "recall":
                _check_recall(client, e)
                report.signatures_checked += 1
        except VigilError as exc:
            report.problems.append({"index": index, "kind": kind, "code": exc.code,
                                    "problem": exc.message})
    return report


def _inbox(client: Client) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        doc = client._call("GET", "/api/v1/inbox", params={"after": after, "limit": 1000})
        out.extend(doc["entries"])
        if doc["next"] == after:
            return out
        after = int(doc["next"])


def _check_share(client: Client, index: int, e: dict[str, Any], report: AuditReport,
                 fetch: bool) -> None:
    if not fetch:
        return
    try:
        doc = client._call("GET", f"/api/v1/shares/{e['share']}")
    except VigilError:
        return  # recalled, purged or expired: the entry alone is what is left
    from vigil.client.session import envelope_of

    env = envelope_of(doc)
    if share_entry(env) != e:
        raise CryptoError(f"share {e['share']} is not the one logged at {index}",
                          code="log.entry_mismatch")
    state = doc.get("state") or {}
    client.verify(env, header_only=bool(state.get("recalled") or state.get("purged")))
    report.shares_checked += 1
    report.signatures_checked += 1


def _check_recall(client: Client, e: dict[str, Any]) -> None:
    recall = e["recall"]
    signature = b64u_decode(e["signature"])
    try:
        m = client.member(str(recall["originator"]))
        verify(TAG_RECALL, recall, signature, b64u_decode(m["sign_key"]["public"]))
    except CryptoError:
        node = client.node()
        verify(TAG_RECALL, recall, signature, b64u_decode(node["sign_key"]["public"]))
