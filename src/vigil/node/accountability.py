"""Signed receipts, recall and retention over an Exchange: the use cases, no HTTP.

A **receipt** is a member's signed statement that its client received a share, opened
it, or removed it after a recall (``received`` / ``opened`` / ``recall-ack``). A
**recall** is the originator's signed withdrawal of its share: in one transaction the
node removes the payload and wraps, appends the recall to its log and delivers it to
every recipient again (a new inbox row), so each recipient's client drops its copy
and acknowledges. **Retention** purges a share past its expiry: payload, wraps and
inbox rows go, the log keeps the share's header hash and records the purge.

Objects and signed bytes are stated in docs/protocol.md ("Receipt", "Recall"); the
flows in docs/accountability.md. Every read asks ``vigil.policy`` and answers a
refused one like a missing share (``share.not_found``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vigil import clock
from vigil.crypto.sign import TAG_RECALL, TAG_RECEIPT, verify
from vigil.errors import Conflict, CryptoError, InputError, NotFound, PolicyDenied, VigilError
from vigil.log.entries import purge_entry, recall_entry, receipt_entry
from vigil.lru import Lru
from vigil.model import Envelope, Member, Provenance, ShareState
from vigil.node.exchange import Exchange
from vigil.policy.access import Access
from vigil.protocol.receipts import (
    OPENED,
    RECALL_ACK,
    WHATS,
    check_recall,
    check_receipt,
    malformed,
    recall_object,
    receipt_object,
    sign_recall,
    sign_receipt,
)
from vigil.storage import accountability as stored
from vigil.storage import payloads
from vigil.storage.accountability import NO_WRAPS as NO_WRAPS
from vigil.storage.accountability import scrub as scrub
from vigil.storage.base import Sql, queue_inbox, serialize_writes

log = logging.getLogger(__name__)

MAX_AHEAD = timedelta(minutes=5)  # a signed time further ahead of the node's clock is refused


def _check_signed(m: Member, tag: str, kind: str, obj: Mapping[str, Any],
                  signature: bytes) -> None:
    """A receipt or recall signed by the member's current key, and not dated ahead."""
    if obj["key"] != m.sign_key_id:
        raise CryptoError(f"the {kind} names a key that is not the member's signing key",
                          code="crypto.unknown_key", pointer=f"/{kind}/key")
    verify(tag, obj, signature, m.sign_key)
    _not_ahead(obj["at"], kind)


def _not_ahead(at: str, kind: str) -> None:
    limit = clock.fmt(datetime.now(UTC) + MAX_AHEAD)
    if at > limit:
        raise InputError(f"the {kind}'s time {at} is ahead of the node's clock",
                         code=f"{kind}.bad_time", pointer=f"/{kind}/at")


# -- results -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ReceiptRecord:
    share: str
    member: str
    what: str
    at: str
    log_index: int
    new: bool

    def to_json(self) -> dict[str, Any]:
        return {"share": self.share, "member": self.member, "what": self.what, "at": self.at,
                "log_index": self.log_index, "new": self.new}


@dataclass(frozen=True, slots=True)
class RecallRecord:
    share: str
    originator: str
    at: str
    key: str
    log_index: int
    recipients: tuple[str, ...]
    new: bool

    def to_json(self) -> dict[str, Any]:
        return {"share": self.share, "originator": self.originator, "at": self.at,
                "key": self.key, "log_index": self.log_index,
                "recipients": list(self.recipients), "new": self.new}


# -- receipts ----------------------------------------------------------------------------

def _missing(share_id: str) -> NotFound:
    return NotFound(f"no share {share_id!r}", code="share.not_found")


def _store_receipt(ex: Exchange, r: Mapping[str, Any], signature: bytes,
                   originator: str) -> ReceiptRecord:
    """One row per (share, member, what) and its log entry, in one transaction; an
    existing receipt is returned as it is (nothing new is logged)."""

    def tx(sql: Sql) -> ReceiptRecord:
        serialize_writes(sql)
        row = stored.receipt(sql, r["share"], r["member"], r["what"])
        if row is not None:
            return ReceiptRecord(r["share"], r["member"], r["what"], row[0], row[1], False)
        ref = ex.log.append(sql, receipt_entry(r, originator, signature))
        stored.add_receipt(sql, r["share"], r["member"], r["what"], r["at"], ref.index)
        return ReceiptRecord(r["share"], r["member"], r["what"], r["at"], ref.index, True)

    return ex.store.write(tx)


def record_receipt(ex: Exchange, member: str, obj: Any, signature: bytes) -> ReceiptRecord:
    """Verify and store a receipt posted by ``member`` (the authenticated actor).

    ``received``/``opened`` need a share the member may read; ``recall-ack`` a recall
    the member was told of. Anyone else gets ``share.not_found``, exactly as for a
    share that does not exist."""
    r = check_receipt(obj)
    if r["member"] != member:
        raise PolicyDenied("a member signs receipts only as itself", code="receipt.wrong_member",
                           pointer="/receipt/member")
    share_id = r["share"]
    gate = Access(ex, member)
    got = gate.fetch(share_id)
    if got is None or gate.delivery(got[1], notices=True) is None:
        raise _missing(share_id)
    env, state = got[0], got[1].state
    h = env.header
    d = gate.directory
    if member not in h["audience"]["recipients"]:
        raise PolicyDenied("only a recipient of a share signs receipts for it",
                           code="receipt.not_recipient")
    if r["what"] == RECALL_ACK and not state.recalled:
        raise Conflict("this share was not recalled", code="receipt.not_recalled")
    if r["what"] != RECALL_ACK and state.recalled:
        raise Conflict("this share was recalled; acknowledge the recall instead",
                       code="receipt.recalled")
    _check_signed(d.members[member], TAG_RECEIPT, "receipt", r, signature)
    return _store_receipt(ex, r, signature, env.originator)


class HeldReceipts:
    """``Exchange.read_hooks`` entry: a member whose keyring the node holds reads a
    share by its id (REST, console) -- the node signs its ``opened`` receipt with the
    held key, once."""

    def __init__(self, ex: Exchange) -> None:
        self.ex = ex
        self.done: Lru[tuple[str, str], bool] = Lru(16384)

    def __call__(self, member: str, env: Envelope) -> None:
        kr = self.ex.held.get(member)
        key = (env.id, member)
        if kr is None or member not in env.header["audience"]["recipients"] \
                or self.done.get(key):
            return
        try:
            there = self.ex.store.read(
                lambda sql: stored.has_receipt(sql, env.id, member, OPENED))
            if not there:
                r = receipt_object(env.id, member, OPENED, kr.sign_key_id)
                _store_receipt(self.ex, r, sign_receipt(r, kr.sign_private), env.originator)
            self.done.put(key, True)
        except VigilError:
            log.warning("could not record the opened receipt of %s for %s", env.id, member,
                        exc_info=True)


def install(ex: Exchange) -> None:
    """Register the node-signed ``opened`` receipts of held members (once)."""
    if not any(isinstance(h, HeldReceipts) for h in ex.read_hooks):
        ex.read_hooks.append(HeldReceipts(ex))


def recall_notice(ex: Exchange, member: str, share_id: str) -> tuple[Envelope, ShareState]:
    """A recalled share as its recipients are told of it: the signed header and
    signature, no payload, no wraps (``Access.recall_notice``); ``share.not_found`` for
    anyone else."""
    gate = Access(ex, member)
    got = gate.fetch(share_id)
    if got is None or not gate.recall_notice(got[1]):
        raise _missing(share_id)
    return Envelope(got[0].header, got[0].signature, b"", ()), got[1].state


def _own_share(ex: Exchange, member: str, share_id: str) -> tuple[Envelope, ShareState]:
    """A share its originator may still read; anything else is ``share.not_found``."""
    gate = Access(ex, member)
    got = gate.fetch(share_id)
    if got is None or not gate.own(got[1]):
        raise _missing(share_id)
    return got[0], got[1].state


def _recall_row(ex: Exchange, share_id: str) -> tuple[str, str, int] | None:
    return ex.store.read(lambda sql: stored.recall_of(sql, share_id))


def receipts_view(ex: Exchange, member: str, share_id: str) -> dict[str, Any]:
    """For the originator only: per recipient, when the node delivered the share to its
    inbox, and when it received, opened and (after a recall) acknowledged it (its signed
    receipts), and who has not."""
    env, state = _own_share(ex, member, share_id)

    receipts, recall, inbox, delays = ex.store.read(
        lambda sql: stored.receipts_of(sql, share_id))
    added = {str(m): str(at) for m, at in inbox}
    held = {str(m): str(nb) for m, nb in delays}
    got: dict[tuple[str, str], tuple[str, int]] = {
        (str(m), str(w)): (str(at), int(idx)) for m, w, at, idx in receipts}
    names = {m.id: m.name for m in ex.directory().members.values()}
    recipients = list(env.header["audience"]["recipients"])
    per = []
    for r in recipients:
        item: dict[str, Any] = {"member": r, "name": names.get(r)}
        # delivered: in its inbox on this node (when the share, after a recall the
        # recall, entered it), and until when the community rule holds it back if it does
        item["delivered"] = None if r not in added else {
            "at": added[r], "held_until": held.get(r)}
        for what in WHATS:
            at_idx = got.get((r, what))
            item[what.replace("-", "_")] = None if at_idx is None else \
                {"at": at_idx[0], "log_index": at_idx[1]}
        per.append(item)
    return {
        "share": share_id,
        "state": {"recalled": state.recalled, "purged": state.purged},
        "recall": None if recall is None else {
            "at": str(recall[0]), "key": str(recall[1]), "log_index": int(recall[2]),
            "signed_by": "node" if recall[1] == ex.node_key_id else "originator"},
        "recipients": per,
        "not_received": [p["member"] for p in per if p["received"] is None],
        "not_opened": [p["member"] for p in per if p["opened"] is None],
        "not_acknowledged": [p["member"] for p in per if p["recall_ack"] is None]
        if state.recalled else None,
    }


# -- recall --------------------------------------------------------------------------------

def _drop_payload(ex: Exchange, sql: Sql, share_id: str, flag: str) -> bool:
    """Set ``flag`` (recalled or purged), remove payload and wraps, and run the
    features' purge hooks; False if the share is purged already."""
    payloads.drop(sql, share_id)
    if not stored.clear_payload(sql, share_id, flag):
        return False
    for hook in ex.purge_tx_hooks:
        hook(sql, share_id)
    return True


def recall(ex: Exchange, member: str, share_id: str, obj: Any = None,
           signature: bytes | None = None) -> RecallRecord:
    """Recall a share for its originator ``member`` (the authenticated actor).

    With ``obj``/``signature`` the recall was signed by the member's client; without,
    the node signs it with the member's keyring if it holds it, or with its node key
    for a share it attested. A recalled share is recalled again as a no-op."""
    env, state = _own_share(ex, member, share_id)
    h = env.header
    recipients = tuple(h["audience"]["recipients"])
    if state.recalled and _recall_row(ex, share_id) is not None:
        return _existing_recall(ex, member, share_id, recipients)
    d = ex.directory()
    if obj is not None:
        if signature is None:
            raise malformed("recall", "/signature", "a signed recall needs its signature")
        r = check_recall(obj)
        if r["share"] != share_id:
            raise InputError("the recall names another share", code="recall.share_mismatch",
                             pointer="/recall/share")
        if r["originator"] != member:
            raise PolicyDenied("a member recalls only as itself", code="recall.wrong_member",
                               pointer="/recall/originator")
        _check_signed(d.members[member], TAG_RECALL, "recall", r, signature)
        sig = signature
    else:
        kr = ex.held.get(member)
        if kr is not None:
            r = recall_object(share_id, member, kr.sign_key_id)
            sig = sign_recall(r, kr.sign_private)
        elif h.get("provenance") == Provenance.ATTESTED.value:
            r = recall_object(share_id, member, ex.node_key_id)
            sig = sign_recall(r, ex.node_key)
        else:
            raise InputError("this share was signed by the member's own client: sign its "
                             "recall there (`vigil recall --keyring`, or the SDK)",
                             code="recall.signature_required", pointer="/signature")
    now = clock.now()

    def tx(sql: Sql) -> RecallRecord | None:
        serialize_writes(sql)
        if stored.recall_of(sql, share_id) is not None:
            return None
        prev = stored.secure_delete(sql)
        if not _drop_payload(ex, sql, share_id, "recalled"):
            return None
        # delivered like a share: a new inbox row (a new seq) for every recipient
        stored.drop_inbox_rows(sql, share_id)
        queue_inbox(sql, share_id, recipients, now)
        ref = ex.log.append(sql, recall_entry(r, recipients, sig))
        stored.add_recall(sql, share_id, member, r["at"], r["key"], ref.index)
        stored.restore_secure_delete(sql, prev)
        return RecallRecord(share_id, member, r["at"], r["key"], ref.index, recipients, True)

    done = ex.store.write(tx)
    ex.envelopes.pop(share_id)
    if done is None:  # recalled (or purged) meanwhile by another request
        return _existing_recall(ex, member, share_id, recipients)
    scrub(ex.store)
    return done


def _existing_recall(ex: Exchange, member: str, share_id: str,
                     recipients: tuple[str, ...]) -> RecallRecord:
    row = _recall_row(ex, share_id)
    if row is None:  # purged meanwhile
        raise _missing(share_id)
    return RecallRecord(share_id, member, row[0], row[1], row[2], recipients, False)


# -- retention -----------------------------------------------------------------------------

def _purge_tx(ex: Exchange, sql: Sql, share_id: str, now: str) -> bool:
    serialize_writes(sql)
    row = stored.unpurged(sql, share_id)
    if row is None or not _drop_payload(ex, sql, share_id, "purged"):
        return False
    header = orjson.loads(row[1])
    stored.drop_inbox_rows(sql, share_id)
    ex.log.append(sql, purge_entry(share_id, row[0], header["audience"]["recipients"], now))
    return True


def expired_shares(ex: Exchange, now: str, limit: int) -> list[str]:
    """Ids of shares whose expiry has passed and that are not purged yet."""
    return ex.store.read(lambda sql: stored.expired(sql, now, limit))


def purge(ex: Exchange, share_ids: list[str], now: str | None = None) -> list[str]:
    """Purge these shares in one transaction (each only once); the ids purged."""
    at = now or clock.now()

    def tx(sql: Sql) -> list[str]:
        prev = stored.secure_delete(sql)
        out = [s for s in share_ids if _purge_tx(ex, sql, s, at)]
        stored.restore_secure_delete(sql, prev)
        return out

    done = ex.store.write(tx)
    for s in done:
        ex.envelopes.pop(s)
    return done


def purge_expired(ex: Exchange, *, now: str | None = None, batch: int = 200,
                  progress: Callable[[int], None] | None = None) -> int:
    """One retention pass: purge every share whose expiry is past, ``batch`` shares
    per transaction; ``progress`` gets the running count after each batch."""
    at = now or clock.now()
    total = 0
    while True:
        ids = expired_shares(ex, at, batch)
        if not ids:
            break
        total += len(purge(ex, ids, at))
        if progress is not None:
            progress(total)
        if len(ids) < batch:
            break
    if total:
        scrub(ex.store)
    return total
