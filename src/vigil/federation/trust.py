"""Federation trust on a running node: every peer a witness, a witnessed key directory,
revocations and fork alarms in every heartbeat, the roster and alarms checked at intake.

One :class:`TrustService` per federating node (``app.state.trust``):

- every ``cadence`` seconds (1 s) it submits the checkpoints of its main log and of its
  directory log to every peer's ``/fed/v1/witness/add-checkpoint`` (C2SP tlog-witness)
  and keeps the cosignatures (:mod:`vigil.witness.collector`);
- it answers that endpoint for its peers' logs (:mod:`vigil.witness.service`; the
  cosigner key is the node key, under the name ``<authority>/witness/<node id>``);
- each heartbeat it sends carries ``trust``: the checkpoints it holds of every log,
  the evidence of every open fork alarm, every revocation it knows and its roster head;
  each heartbeat it receives is compared with what it saw (a second root for a size is
  a fork), and the evidence and revocations it carries are re-checked and taken;
- every item from a peer passes :meth:`TrustService.gate` before its kind's checks: a
  node under an open fork alarm, or off a non-empty roster, is refused; a share signed
  by a key revoked at its log index is refused, and the key that signed each accepted
  share is recorded so a revocation learnt later marks it;
- a member announcement carries the member's directory entries under a checkpoint
  with k cosignatures and waits until it can; it is refused without them, with fewer
  cosignatures of roster nodes, or when its keys are not theirs
  (:meth:`TrustService.check_announcement`, :meth:`TrustService.member_proofs`);
- a key rotation enters the directory in the rotation's transaction
  (:meth:`TrustService.rotate`);
- a member that moves (a ``rehome`` entry) is routed to its new home, taken there only
  with its old home's proven move, and followed by other nodes only with that proof
  (:mod:`vigil.directory.rehome`);
- a member asks for the proof that a share is witnessed (:meth:`TrustService.witnessed`)
  and checks it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from vigil.crypto.encoding import b64u
from vigil.federation import kinds, outbox, receiver
from vigil.federation.peers import Peer
from vigil.federation.trust_directory import TrustDirectory
from vigil.federation.trust_origin import TrustOrigin
from vigil.log.checkpoint import parse_checkpoint
from vigil.node.exchange import Exchange
from vigil.protocol.witnessing import witness_name

log = logging.getLogger("vigil.federation.trust")

__all__ = ["TrustService", "witness_name"]


class TrustService(TrustDirectory, TrustOrigin):
    """A federating node's trust service (see the module's docstring), put together
    from its peers and alarms (``trust_peers``), its key directory (``trust_directory``),
    what it checks of peers (``trust_intake``) and the proofs of shares' places in their
    origins' logs (``trust_origin``)."""

    # -- the cadence ------------------------------------------------------------------
    def tick(self) -> dict[str, int]:
        """One round: submit both logs to every peer witness; prune old cosignatures."""
        self.register_held()  # the members held here, added since the last round too
        self.refresh_peers()
        won = self.collector.round(self.witness_peers())
        k = self.k()
        for origin in won:
            self.collector.prune(origin, k)
        self.prefetch_origin_proofs()  # for shares signed by a since-revoked key
        self._ticks += 1
        if self._ticks % 60 == 0:  # about a minute
            self.witness.prune()
        return won

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="fed-trust")

    def leading(self) -> bool:
        """Whether this worker sends for the node (holds the federation service's lease:
        it runs the links); only that worker submits checkpoints."""
        svc = self._service
        return svc is None or bool(getattr(svc, "links", True))

    async def _loop(self) -> None:
        while True:
            try:
                if self.leading():
                    # shielded: stopping waits for a round under way (its thread
                    # writes to the store, which closes after the stop)
                    self._round = asyncio.ensure_future(asyncio.to_thread(self.tick))
                    await asyncio.shield(self._round)
            except Exception:
                log.exception("witnessing round failed")
            await asyncio.sleep(self.cadence)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._round is not None:
            with contextlib.suppress(Exception):
                await self._round
        self.uninstall()
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    def install(self) -> None:
        """Put the gate in front of every item kind; the exchange's parts (``Exchange.
        attach``) name this service, so several nodes, or one node opened twice, share
        a process without sharing a service (the gate finds the receiving exchange's)."""
        self.ex.attach(Installed, Installed)[0].service = self
        self.ex.attach(outbox.MemberProofs, outbox.MemberProofs)[0].source = \
            self.member_proofs
        self.ex.attach(kinds.Moves, kinds.Moves)[0].check = self.check_move
        for kind, checker in list(kinds._KINDS.items()):
            if not getattr(checker, "__trust_gated__", False):
                kinds.register(kind, _gated(kind, checker))

    @staticmethod
    def _heartbeat_hook(ex: Exchange, peer: Peer, hb: Mapping[str, Any]) -> None:
        svc = service_of(ex)
        if svc is not None and "trust" in hb:
            try:
                svc.on_heartbeat(peer, hb["trust"])
            except Exception:
                log.exception("the trust part of %s's heartbeat failed", peer.name)

    def attach(self, service: Any) -> None:
        """Join a federation service: heartbeats carry and take the trust part, every
        item kind passes the gate."""
        self.install()
        self._service = service
        service.heartbeat_parts["trust"] = self.heartbeat_part
        if TrustService._heartbeat_hook not in receiver.HEARTBEAT_HOOKS:
            receiver.HEARTBEAT_HOOKS.append(TrustService._heartbeat_hook)

    def uninstall(self) -> None:
        """Take this service's parts off its exchange (another's stay)."""
        installed = self.ex.part(Installed)
        if installed is not None and installed.service is self:
            installed.service = None
        proofs = self.ex.part(outbox.MemberProofs)
        if proofs is not None and proofs.source == self.member_proofs:
            proofs.source = None
        moves = self.ex.part(kinds.Moves)
        if moves is not None and moves.check == self.check_move:
            moves.check = None

    def witnessed(self, member: str, share_id: str) -> dict[str, Any]:
        """The proof that a share the member may read is witnessed, for its client to
        check (``share.not_found`` when the member may not read it, exactly like a
        missing share).

        Every share this node holds, published here or received, is an entry of this
        node's log. The answer carries the newest checkpoint of that log with ``k``
        cosignatures of other nodes' witnesses (the note with its cosignature lines),
        the share entry's ``index`` and its inclusion ``proof`` in that checkpoint's
        tree; ``witnessed`` is whether the checkpoint reaches the entry. The client
        verifies all of it (:func:`vigil.protocol.witnessing.verify_witnessed_entry`).
        ``revoked_key``: the share was signed by a key revoked at its origin index;
        ``origin_index``: its index in its origin's log (this node's, for its own);
        ``origin_proof``: the proof of that index, for the client to check before it
        compares it with a revocation point: ``{origin, index, witnessed, checkpoint,
        size, proof}`` of the origin's log (this node's own part for its own shares,
        the origin's cosigned proof for a received one, :meth:`origin_part`)."""
        self.ex.share(member, share_id)  # the access gate
        k = self.k()
        use = self.revocations.use(share_id)
        revoked = bool(use[2]) if use is not None else False
        log_ = self.ex.log
        ref = log_.share_refs([share_id]).get(share_id)
        index = ref.index if ref is not None else -1
        note = self.collector.cosigned(log_.origin, k) if index >= 0 and k > 0 else None
        size = parse_checkpoint(note)[0].size if note is not None else 0
        witnessed = note is not None and index < size
        by = self.collector.cosigners_above(log_.origin, index) if index >= 0 else []
        own = {"origin": log_.origin, "index": index, "witnessed": witnessed,
               "checkpoint": note if witnessed else None, "size": size if witnessed else 0,
               "proof": [b64u(h) for h in log_.inclusion(index, size)] if witnessed
               else []}
        received = use is not None and use[0] != self.ex.node_id
        return {"share": share_id, **own, "k": k, "witnesses": by, "revoked_key": revoked,
                "origin_index": use[1] if use is not None else index,
                "origin_proof": self.origin_part(share_id, use[0], use[1])
                if use is not None and received else own}


class Installed:
    """The trust service installed on an exchange (its gate checks every item)."""

    def __init__(self) -> None:
        self.service: TrustService | None = None


def service_of(ex: Exchange) -> TrustService | None:
    installed = ex.part(Installed)
    return installed.service if installed is not None else None


def _gated(kind: str, inner: kinds.Checker) -> kinds.Checker:
    def gated(ctx: kinds.Context, body: Mapping[str, Any]) -> kinds.Write:
        svc = service_of(ctx.ex)
        if svc is not None:
            svc.gate(ctx, kind, body)
        write = inner(ctx, body)
        if svc is not None and kind == "share":
            svc.share_key(ctx, body)  # raises fed.revoked_key before anything is written
        if svc is not None and kind == "member" and write is not kinds.noop:
            # a new key event (an older one changes nothing): against the directory
            svc.check_announcement(ctx.peer.node, ctx.peer.key, body)
        return write

    gated.__trust_gated__ = True  # type: ignore[attr-defined]
    return gated


def trust_of(state: Any) -> TrustService:
    svc: TrustService | None = getattr(state, "trust", None)
    if svc is None:
        from vigil.errors import NotFound

        raise NotFound("this node does not federate", code="fed.off")
    return svc

