"""The destination side of a peer link: verify a batch and apply it in one transaction.

Checks, per batch: the form, the origin and destination, the origin node's signature
(a batch that fails is refused whole and kept as evidence), and the cursor (``fed.gap``
and ``fed.replay`` answer 409 with it). Per item: its body digest, then its kind's own
checks (``vigil.federation.kinds``); an item that fails is quarantined with the signed
batch head and its body, and the cursor passes it. A channel item naming a member not
known here yet is held instead (``vigil.federation.held``), and applied in a later
transaction once that member is announced. Everything new, the quarantine rows
and the new cursor commit in one transaction, before the signed ack is made. The body
digests and the share checks that need nothing of the store run before it, outside the
write lock (``check_ahead``; for a batch that came before its turn, while it waits); the
shares are written together (``kinds.Context.flush``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from vigil import clock
from vigil.crypto.encoding import b64u
from vigil.errors import Conflict, CryptoError, InputError, VigilError
from vigil.federation import codec, held, kinds, prepared
from vigil.federation.peers import Peer
from vigil.log.checkpoint import Checkpoint
from vigil.log.tree import LogRef
from vigil.node.accountability import scrub
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.storage import federation as q
from vigil.storage.base import Sql, serialize_writes

log = logging.getLogger(__name__)
# called with every verified heartbeat (vigil.federation.trust takes its "trust" part)
HEARTBEAT_HOOKS: list[Callable[[Exchange, Peer, Mapping[str, Any]], None]] = []


@dataclass
class Applied:
    """What a received batch changed, for the work after its commit."""

    ack: dict[str, Any]
    ring: set[str] = field(default_factory=set)
    published: list[Published] = field(default_factory=list)
    quarantined: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    dropped_envelopes: list[str] = field(default_factory=list)
    refs: list[tuple[str, LogRef]] = field(default_factory=list)


def _evidence(head: Mapping[str, Any], signature: bytes, body: Any) -> bytes:
    return orjson.dumps({"batch": head, "signature": b64u(signature), "body": body})


def refuse_batch(ex: Exchange, origin: str, head: Any, signature: bytes, bodies: Any,
                 err: VigilError) -> None:
    """Keep a refused batch as evidence (its own transaction)."""
    now = clock.now()
    ev = _evidence(head, signature, bodies)
    ex.store.write(lambda sql: q.quarantine(sql, origin, None, "batch", err.code,
                                            err.message, ev, now))


@dataclass
class Ahead:
    """A batch checked as far as it can be without the store: its form, origin,
    destination and signature, and its items' digests and share checks
    (``prepared.prepare``). Made before the batch's turn, while the one before it is
    stored (``receive_in_turn``), or at the start of ``receive``."""

    head: dict[str, Any]
    signature: bytes
    bodies: list[Any]
    digests: dict[int, bool]
    checkpoints: dict[str, Checkpoint]
    ready: dict[int, prepared.Prepared]


def check_ahead(ex: Exchange, peer: Peer, data: bytes | Mapping[str, Any]) -> Ahead:
    """The checks of a batch from ``peer`` that need nothing of the store. A batch whose
    signature fails is kept as evidence and refused here."""
    head, signature, bodies = codec.parse_batch(data)
    if head["origin"] != peer.node or head["dest"] != ex.node_id:
        raise InputError("this batch is not from this peer to this node",
                         code="fed.wrong_destination", status=403)
    try:
        codec.verify_batch(head, signature, peer.key)
    except CryptoError as e:
        refuse_batch(ex, peer.node, head, signature, bodies, e)
        raise
    first = q.read_cursor(ex.store, peer.node)  # items stored already are not checked
    fresh = [(item, body) for item, body in zip(head["items"], bodies, strict=True)
             if int(item["dseq"]) > first]
    digests = {int(item["dseq"]): isinstance(body, dict)
               and codec.body_matches(body, item["digest"]) for item, body in fresh}
    checkpoints: dict[str, Checkpoint] = {}
    ready = prepared.prepare(ex, peer, [(str(item["kind"]), body) for item, body in fresh],
                             checkpoints)
    return Ahead(head, signature, bodies, digests, checkpoints, ready)


def receive(ex: Exchange, peer: Peer, data: bytes | Mapping[str, Any],
            ahead: Ahead | None = None) -> Applied:
    """Verify and apply a batch from ``peer``; the signed ack and what to ring.
    ``ahead``: ``check_ahead`` of this batch, made already."""
    if ahead is None:
        ahead = check_ahead(ex, peer, data)
    head, signature, bodies = ahead.head, ahead.signature, ahead.bodies
    digests, checkpoints, ready = ahead.digests, ahead.checkpoints, ahead.ready
    now = clock.now()
    out = Applied(ack={})

    def tx(sql: Sql) -> int:
        serialize_writes(sql)
        cur = q.cursor(sql, peer.node)[0]
        if head["items"] and head["to"] <= cur:
            raise Conflict(f"items up to {cur} are applied already", code="fed.replay",
                           detail={"cursor": cur})
        if head["items"] and head["from"] > cur + 1:
            raise Conflict(f"the next item here is {cur + 1}, not {head['from']}",
                           code="fed.gap", detail={"cursor": cur})
        ctx = kinds.Context(ex, peer, sql, now, head, checkpoints=checkpoints,
                            prepared=ready)
        ctx.read_heads()
        members = False  # a member item applied: the held items are checked again
        for item, body in zip(head["items"], bodies, strict=True):
            dseq = int(item["dseq"])
            if dseq <= cur:
                continue
            if item["kind"] != "share":
                ctx.flush()  # it may rest on the shares before it (a recall, a receipt)
            try:
                matches = digests.get(dseq)
                if matches is None:
                    matches = isinstance(body, dict) and codec.body_matches(body,
                                                                            item["digest"])
                if not matches:
                    raise CryptoError("the item's body does not match its digest",
                                      code="fed.bad_digest")
                if held.behind(sql, peer.node, str(item["kind"]), body):
                    raise InputError("an earlier item of this channel is held here",
                                     code=held.CODE)
                write = kinds.check(ctx, item["kind"], body)
            except VigilError as e:
                code = e.code if e.code.startswith("fed.") else "fed.bad_item"
                evidence = _evidence(head, signature, body)
                if held.holds(str(item["kind"]), body, e):
                    gone = held.hold(ex, sql, peer.node, dseq, str(item["kind"]), body,
                                     evidence, now)
                    out.quarantined.extend(d for d in gone if d >= int(head["from"]))
                    members = members or bool(gone)  # the items behind them: again
                    if dseq not in gone:
                        out.held.append(dseq)
                        log.info("holding item %s from %s: %s", dseq, peer.name, e.message)
                        continue
                    log.warning("quarantined item %s from %s: %s held past the bound",
                                dseq, peer.name, code)
                    continue
                q.quarantine(sql, peer.node, dseq, str(item["kind"]), code, e.message,
                             evidence, now)
                out.quarantined.append(dseq)
                log.warning("quarantined item %s from %s: %s %s", dseq, peer.name, code,
                            e.message)
                continue
            # apply at once: a later item of the same batch may rest on this one (a
            # member announced, then its share); a share is staged, and the staged
            # shares are stored together (ctx.flush)
            write()
            if item["kind"] != "share":
                ctx.forget()
            members = members or item["kind"] == "member"
        ctx.flush()
        held.release(ex, sql, now, members=members)
        new = max(cur, int(head["to"])) if head["items"] else cur  # empty: no move
        q.set_cursor(sql, peer.node, new, now)
        if new >= q.cursor(sql, peer.node)[1]:
            q.set_withheld(sql, peer.node, None)
        out.ring |= ctx.ring
        out.published.extend(ctx.published)
        out.dropped_envelopes.extend(ctx.dropped)
        out.refs.extend(ctx.refs)
        return new

    cursor = ex.store.write(tx)
    after_commit(ex, out)
    out.ack = codec.make_ack(ex.node_key, peer.node, ex.node_id, cursor, out.quarantined)
    return out


class Turns:
    """Per origin, the batches this process holds (arrived, not yet answered). A sender
    keeps a few batches in flight (``sender.WINDOW``), so a batch can come while the
    one before it is still on its way or being stored: it waits for that one's commit
    (``receive_in_turn``) rather than being refused as a gap. One per exchange
    (``Exchange.attach``); used on the event loop."""

    def __init__(self) -> None:
        self.held: dict[str, int] = {}
        # the first item of each held batch that waits its turn, per origin
        self.firsts: dict[str, list[int]] = {}

    async def wait(self, ex: Exchange, origin: str, first: int) -> None:
        """Until the cursor for ``origin`` reaches ``first - 1``; or, while no other
        batch of that origin is held here, until it has not moved for ``TURN_GRACE``
        seconds; or ``TURN_WAIT`` seconds in all. (The batch is then answered
        ``fed.gap``.) A batch that some held batch comes before is not alone; one that
        none of them comes before (the next item is in no batch held here: withheld, or
        lost on its way) is alone and answered ``fed.gap`` after the grace, so its
        sender's heartbeat makes this node pull and flag the gap."""
        start = last_move = time.monotonic()
        last = -1
        while True:
            cur = await asyncio.to_thread(q.read_cursor, ex.store, origin)
            if cur + 1 >= first:
                return
            now = time.monotonic()
            if cur != last:
                last, last_move = cur, now
            held = self.held.get(origin, 0)
            if held > HELD_MAX:  # more than a sender keeps in flight: not waited for
                return
            waiting = self.firsts.get(origin, [])
            # the others held either bring the next item, or are still being checked
            # (their first not known yet), or wait as this one does for what none holds
            alone = held <= 1 or (held == len(waiting) and min(waiting) > cur + 1)
            if now - start > TURN_WAIT or (alone and now - last_move > TURN_GRACE):
                return
            await asyncio.sleep(TURN_POLL)


TURN_WAIT = 10.0  # seconds a batch waits at most for the ones before it
TURN_GRACE = 0.25  # ... when none of them is here (it may be on its way)
TURN_POLL = 0.01
HELD_MAX = 4  # batches of one origin held here that wait their turn (a sender sends 3)


async def receive_in_turn(ex: Exchange, peer: Peer, data: Mapping[str, Any]) -> Applied:
    """``receive`` (in a worker thread) once the batches before this one are stored
    (``Turns``); its ``check_ahead`` while it waits."""
    turns = ex.attach(Turns, Turns)[0]
    turns.held[peer.node] = turns.held.get(peer.node, 0) + 1
    try:
        # its checks that need nothing of the store run while the batches before it
        # are stored (their transactions, their commits' fsync)
        ahead = await asyncio.to_thread(check_ahead, ex, peer, data)
        first = ahead.head["from"] if ahead.head["items"] else None
        if first is not None:
            waiting = turns.firsts.setdefault(peer.node, [])
            waiting.append(int(first))
            try:
                await turns.wait(ex, peer.node, int(first))
            finally:
                waiting.remove(int(first))
        return await asyncio.to_thread(receive, ex, peer, data, ahead)
    finally:
        turns.held[peer.node] -= 1


def receiving(ex: Exchange, origin: str) -> bool:
    """Whether this process holds a pushed batch from ``origin`` now (a push in
    progress: a pull of the same items would only repeat it)."""
    turns = ex.part(Turns)
    return turns is not None and bool(turns.held.get(origin))


def after_commit(ex: Exchange, out: Applied) -> None:
    for sid in out.dropped_envelopes:
        ex.envelopes.pop(sid)
    if out.dropped_envelopes:
        scrub(ex.store)  # the removed payloads' pages leave the SQLite WAL too
    for sid, ref in out.refs:
        ex.log.refs.put(sid, ref)
    for pub in out.published:
        ex.envelopes.put(pub.envelope.id, pub.envelope)
        for hook in ex.published_hooks:
            try:
                hook(pub)
            except Exception:
                log.exception("after-publish hook %r failed for %s", hook, pub.envelope.id)


def heartbeat(ex: Exchange, peer: Peer, data: Mapping[str, Any]) -> dict[str, Any]:
    """Record a peer's heartbeat: its head for this node. A head past the cursor is a
    gap to pull; the link is flagged ``withheld`` while a pull does not close it (the
    sender marks that, see ``sender``). Answers this node's cursor."""
    hb = codec.open_signed(data, codec.TAG_HEARTBEAT, "heartbeat", peer.key)
    if hb.get("origin") != peer.node or hb.get("dest") != ex.node_id or \
            not isinstance(hb.get("head"), int):
        raise InputError("malformed heartbeat", code="fed.bad_item")
    now = clock.now()
    revocations = hb.get("revocations") or []
    if not isinstance(revocations, list):
        raise InputError("malformed heartbeat", code="fed.bad_item")

    def tx(sql: Sql) -> int:
        serialize_writes(sql)
        cur, _, _, _, withheld = q.cursor(sql, peer.node)
        q.set_heartbeat(sql, peer.node, int(hb["head"]), now,
                        withheld if int(hb["head"]) > cur else None)
        # revocations overtake the queue: applied now, checked like a queued member item
        ctx = kinds.Context(ex, peer, sql, now, hb)
        for body in revocations:
            try:
                if not isinstance(body, dict) or body.get("entry", {}).get("event") != \
                        "deactivate":
                    raise InputError("not a revocation", code="fed.bad_item")
                kinds.check(ctx, "member", body)()
            except VigilError as e:
                q.quarantine(sql, peer.node, None, "revocation", e.code, e.message,
                             orjson.dumps(data), now)
        # held channel items: past their age quarantined, released by a member announced
        held.release(ex, sql, now, members=bool(revocations))
        return cur

    cur = ex.store.write(tx)
    for hook in HEARTBEAT_HOOKS:
        hook(ex, peer, hb)
    return {"cursor": cur, "head": int(hb["head"])}
