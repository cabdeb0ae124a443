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
- a member announcement carries the member's witnessed directory entries and is
  refused when its keys are not theirs (:meth:`TrustService.check_announcement`);
- a member that moves (a ``rehome`` entry) is routed to its new home, taken there only
  with its old home's proven move, and followed by other nodes only with that proof
  (:mod:`vigil.directory.rehome`);
- a member asks for the proof that a share is witnessed (:meth:`TrustService.witnessed`)
  and checks it itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from vigil import clock
from vigil.client.tls import transports
from vigil.crypto.encoding import b64u
from vigil.directory.answers import answer_lookup
from vigil.directory.entries import countersign, directory_origin, enc_kid, next_entry, sign_entry
from vigil.directory.log import DirectoryLog
from vigil.directory.lookup import verify_lookup
from vigil.directory.rehome import verify_move
from vigil.directory.revocation import Revocations
from vigil.errors import CryptoError, InputError, NotFound
from vigil.federation import kinds, outbox, receiver
from vigil.federation.peers import Peer, peers
from vigil.log.checkpoint import DEFAULT_AUTHORITY, parse_checkpoint
from vigil.log.entries import member_entry
from vigil.node.exchange import Exchange
from vigil.protocol.witnessing import quorum
from vigil.roster.roster import Roster
from vigil.storage import federation as fq
from vigil.storage import trust as tq
from vigil.storage.base import Sql
from vigil.witness.alarms import Alarm, Alarms
from vigil.witness.collector import Collector, WitnessPeer
from vigil.witness.service import Witness
from vigil.witness.wire import NOTE_CONTENT_TYPE

log = logging.getLogger("vigil.federation.trust")
WITNESS_PATH = "/witness/add-checkpoint"

__all__ = ["TrustService", "witness_name"]


def witness_name(node_id: str, authority: str = DEFAULT_AUTHORITY) -> str:
    return f"{authority}/witness/{node_id}"


def peer_client(peer: Peer, timeout: float) -> httpx.Client:
    """A sync client to ``peer``, pinned to its TLS key when it has one."""
    if peer.url.startswith("https"):
        if peer.tls_pin:
            return httpx.Client(transport=transports(pin=peer.tls_pin)[0], timeout=timeout)
        return httpx.Client(verify=False, timeout=timeout)  # the checkpoint is signed
    return httpx.Client(timeout=timeout)


class TrustService:
    def __init__(self, ex: Exchange, *, cadence: float = 1.0) -> None:
        self.ex = ex
        self.cadence = cadence
        store = ex.store
        self.alarms = Alarms(store)
        self.directory = DirectoryLog(store, ex.node_id, ex.node_key)
        self.revocations = Revocations(store)
        self.roster = Roster(store)
        self.witness = Witness(store, witness_name(ex.node_id), ex.node_key, self.known_log,
                               self.alarms)
        self.collector = Collector(store, [ex.log, self.directory])
        self._peers: list[Peer] = []
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._registered = False
        self._turns: dict[str, int] = {}
        self._ticks = 0
        self._service: Any = None
        self.alarm_listeners: list[Callable[[Alarm], None]] = []
        self.alarms.listeners.append(self._alarmed)
        self.refresh_peers()

    # -- peers ------------------------------------------------------------------------
    def refresh_peers(self) -> list[Peer]:
        got = peers(self.ex.store)
        with self._lock:
            self._peers = got
        return got

    def peer_list(self) -> list[Peer]:
        with self._lock:
            return list(self._peers)

    def known_log(self, origin: str) -> tuple[str, bytes] | None:
        """The key of a peer's log (main or directory); none for a node off a roster."""
        on = self.roster.nodes
        for p in self.peer_list():
            if on and on.get(p.node) != p.key:
                continue
            if origin in (p.log_origin, directory_origin(p.node)):
                return origin, p.key
        return None

    def witnesses(self) -> dict[str, bytes]:
        """The cosigner name and key of this node and of every peer: what this node and
        its members' clients trust (a log's own node never counts for its log)."""
        out = {witness_name(p.node): p.key for p in self.peer_list()}
        out[witness_name(self.ex.node_id)] = self.ex.node_key_raw
        return out

    def k(self) -> int:
        n = len(self.roster.nodes) or len(self.peer_list()) + 1
        return quorum(n)

    def _submitter(self, peer: Peer) -> Callable[[bytes], tuple[int, str, bytes]]:
        def submit(body: bytes) -> tuple[int, str, bytes]:
            client = self._clients.get(peer.node)
            if client is None:
                client = self._clients[peer.node] = peer_client(peer, 5.0)
            try:
                r = client.post(peer.url.rstrip("/") + WITNESS_PATH, content=body,
                                headers={"content-type": NOTE_CONTENT_TYPE})
            except httpx.HTTPError as e:
                raise OSError(str(e)) from e
            return r.status_code, r.headers.get("content-type", ""), r.content
        return submit

    def witness_peers(self) -> list[WitnessPeer]:
        return [WitnessPeer(witness_name(p.node), p.key, self._submitter(p))
                for p in self.peer_list() if not self.alarms.refuses(p.node)]

    # -- the directory ----------------------------------------------------------------
    def register_held(self) -> int:
        """Register in the directory every member whose keyring this node holds and
        that has no entry yet (signed by the member's own key); how many it added."""
        have = {e.member for _, e in self.directory.entries()}
        added = 0
        for member, kr in sorted(self.ex.held.items()):
            if member in have:
                continue
            entry = next_entry(None, "register", member, self.ex.node_id,
                               sign_key=kr.sign_private, enc_key=kr.enc_public)
            self.directory.append(sign_entry(entry, kr.sign_private, self.ex.node_key))
            added += 1
        return added

    def submit_entry(self, member: str, signed: Mapping[str, Any]) -> int:
        """A member's own signed directory entry (rotation by its old key, recovery,
        revocation, move, or its registration): countersigned here and appended if it
        extends the member's chain. ``member`` comes from authentication."""
        entry, sig = signed.get("entry"), signed.get("sig")
        if not isinstance(entry, Mapping) or entry.get("member") != member \
                or entry.get("home") != self.ex.node_id or not isinstance(sig, str):
            raise InputError("an entry of the caller's own, for this node, with its "
                             "signature", code="dir.bad_entry")
        to = entry.get("to")
        if entry.get("kind") == "rehome" and not any(p.node == to for p in self.peer_list()):
            raise InputError("a move to a node this node peers with", code="dir.bad_entry")
        countersigned = countersign(entry, sig, self.ex.node_key)
        index = self.directory.append(countersigned)
        if entry.get("kind") == "revoke":
            self.revocations.learn(countersigned, self.ex.node_key_raw)
        if entry.get("kind") == "rehome":  # hosted here no more: its shares go there
            def moved(sql: Sql) -> None:
                tq.home_at(sql, member, str(to), -1)
                kinds.bump_directory(sql)
            self.ex.store.write(moved)
        return index

    def take_member(self, member: str, answer: Mapping[str, Any]) -> None:
        """Host ``member``, which moved here from the node it is homed at: ``answer`` is
        that node's lookup of it, which must end in a move here with the keys this node
        holds for it (``dir.not_moved`` otherwise). The member is announced from this
        node's log, the answer attached as the proof of the move."""
        home = self.ex.store.read(lambda sql: fq.remote_member(sql, member))
        old = next((p for p in self.peer_list() if home is not None and p.node == home[0]),
                   None)
        if home is None or old is None:
            raise NotFound(f"{member} is not homed at a peer", code="dir.not_moved")
        keys = verify_move(answer, old.node, old.key, self.witnesses(), self.k(), member,
                           self.ex.node_id)
        m = self.ex.directory().members.get(member)
        if m is None or keys.sign_key_id != m.sign_key_id \
                or enc_kid(keys.enc_key) != m.enc_key_id:
            raise CryptoError("the keys that moved are not the ones held here",
                              code="dir.not_moved")
        proof = json.dumps(dict(answer))

        def run(sql: Sql) -> None:
            tq.host_here(sql, member)
            tq.put_move(sql, member, proof)
            self.ex.log.append(sql, member_entry(member, "add", m.sign_key_id, m.enc_key_id,
                                                 clock.now()))
            kinds.bump_directory(sql)
        self.ex.store.write(run)

    def check_move(self, ctx: kinds.Context, old_home: str, body: Mapping[str, Any]) -> None:
        """A peer announces a member this node knows homed at ``old_home``: only with the
        proof that the member moved to that peer (``moved``: the old home's lookup)."""
        old = next((p for p in self.peer_list() if p.node == old_home), None)
        proof = body.get("moved")
        mj = body["member"]
        try:
            if old is None or not isinstance(proof, Mapping):
                raise CryptoError("no proof of a move", code="dir.not_moved")
            # signed by the member and countersigned by its old home: nothing a node can
            # forge, so no cosignature is needed (the nodes may count k differently)
            keys = verify_move(proof, old.node, old.key, {}, 0, str(mj["id"]),
                               ctx.peer.node)
            if keys.sign_key_id != mj["sign_key_id"]:
                raise CryptoError("other keys than the ones that moved", code="dir.not_moved")
        except CryptoError as e:
            raise CryptoError(f"{mj['id']} is homed at {old_home}, and {e.message}",
                              code="fed.forged_originator") from None

    # -- the cadence ------------------------------------------------------------------
    def tick(self) -> dict[str, int]:
        """One round: submit both logs to every peer witness; prune old cosignatures."""
        if not self._registered:
            self.register_held()
            self._registered = True
        self.refresh_peers()
        won = self.collector.round(self.witness_peers())
        k = self.k()
        for origin in won:
            self.collector.prune(origin, k)
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
                    await asyncio.to_thread(self.tick)
            except Exception:
                log.exception("witnessing round failed")
            await asyncio.sleep(self.cadence)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.uninstall()
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    # -- heartbeats -------------------------------------------------------------------
    def heartbeat_part(self, dest: str) -> dict[str, Any]:
        """What every heartbeat carries: held checkpoints, fork evidence, revocations,
        the roster head."""
        evidence = [a.evidence["notes"] for a in self.alarms.all()
                    if a.status == "open" and a.evidence["kind"] == "fork"]
        turn = self._turns[dest] = self._turns.get(dest, -1) + 1
        return {"witness": self.witness.holds(), "evidence": evidence,
                "revocations": self.revocations.heads(turn=turn),
                "roster": self.roster.head()}

    def on_heartbeat(self, peer: Peer, part: Any) -> None:
        """Take a peer's heartbeat part; everything in it is re-checked here."""
        if not isinstance(part, Mapping):
            return
        source = witness_name(peer.node)
        held = part.get("witness")
        if isinstance(held, Mapping):
            for origin, note in held.items():
                if isinstance(note, str) and self.known_log(str(origin)) is not None:
                    self.witness.observe(note, source)
        for notes in part.get("evidence") or []:
            if isinstance(notes, list) and all(isinstance(n, str) for n in notes):
                self.witness.take_evidence(notes, source)
        revs = part.get("revocations")
        if isinstance(revs, list):
            homes = {p.node: p.key for p in self.peer_list()}
            homes[self.ex.node_id] = self.ex.node_key_raw
            self.revocations.learn_all([r for r in revs if isinstance(r, Mapping)], homes)
        if part.get("roster") is not None and self.roster.observe(part["roster"]) == "ahead":
            self.refresh_peers()  # a rekey pins the peer's new key

    # -- intake -----------------------------------------------------------------------
    def gate(self, ctx: kinds.Context, kind: str, body: Mapping[str, Any]) -> None:
        """Refuse every item of a node under a fork alarm or off the roster."""
        self.alarms.check_intake(ctx.peer.node)
        if self.roster.nodes:
            self.roster.check_node(ctx.peer.node, ctx.peer.key)

    def check_announcement(self, home: str, home_key: bytes, body: Mapping[str, Any]) -> None:
        """A member's keys announced by its home node, against the member's directory
        entries the item carries (``directory``: the home node's lookup answer). The
        answer must hold as a lookup: the home node's signed checkpoint, every inclusion
        proof, the member's chain with its signatures (``fed.bad_directory_proof``
        otherwise); keys other than the chain's current ones are
        ``fed.directory_mismatch``. No cosignature is needed for this: a mismatch is the
        home node contradicting itself in two signed statements, and the item is
        quarantined with its body and the signed batch head as the evidence (the sender
        and this node may count k differently, so an honest proof is never refused for
        its cosignatures). An announcement without a proof (a member with no witnessed
        directory entry yet) is checked as before, by the main log alone."""
        proof = body.get("directory")
        if proof is None:
            return
        mj, entry = body["member"], body["entry"]
        try:
            keys = verify_lookup(proof, home, home_key, {}, 0, str(mj["id"]))
        except CryptoError as e:
            raise CryptoError(f"the member's directory proof does not hold: {e.message}",
                              code="fed.bad_directory_proof") from None
        if entry.get("event") == "deactivate":
            return  # a revocation only takes trust away
        if keys.sign_key_id != mj["sign_key_id"] or enc_kid(keys.enc_key) != mj["enc_key_id"]:
            raise CryptoError(f"{mj['id']}'s announced keys are not the ones its directory "
                              f"entries hold", code="fed.directory_mismatch")

    def member_proofs(self, member: str) -> dict[str, Any]:
        """What a member's announcement carries: its witnessed directory entries here
        (``directory``; none while it has none under a k-cosigned checkpoint) and, if it
        moved here, its old home's lookup showing the move (``moved``)."""
        out: dict[str, Any] = {}
        with contextlib.suppress(NotFound):
            out["directory"] = answer_lookup(self.directory, self.collector, member,
                                             self.k())
        moved = self.ex.store.read(lambda sql: tq.move_proof(sql, member))
        if moved is not None:
            out["moved"] = json.loads(moved)
        return out

    def share_key(self, ctx: kinds.Context, body: Mapping[str, Any]) -> None:
        """After a share's own checks: its key, not revoked at its index, recorded."""
        if body.get("gone"):
            return
        env, ref = body["envelope"], body["log"]
        header = env["header"]
        self.revocations.record_use(ctx.sql, str(header["id"]), ctx.peer.node,
                                    str(header["key"]), int(ref["index"]))

    def install(self) -> None:
        """Put the gate in front of every item kind. Several nodes may share a process
        (the tests): the gate finds the service of the receiving node by its id."""
        _SERVICES[self.ex.node_id] = self
        outbox.MEMBER_PROOFS[self.ex.node_id] = self.member_proofs
        kinds.MOVES[self.ex.node_id] = self.check_move
        for kind, checker in list(kinds._KINDS.items()):
            if not getattr(checker, "__trust_gated__", False):
                kinds.register(kind, _gated(kind, checker))

    @staticmethod
    def _heartbeat_hook(ex: Exchange, peer: Peer, hb: Mapping[str, Any]) -> None:
        svc = _SERVICES.get(ex.node_id)
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
        if _SERVICES.get(self.ex.node_id) is self:
            del _SERVICES[self.ex.node_id]
            outbox.MEMBER_PROOFS.pop(self.ex.node_id, None)
            kinds.MOVES.pop(self.ex.node_id, None)

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
        ``revoked_key``: the share was signed by a key revoked at its origin index."""
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
        return {"share": share_id, "origin": log_.origin, "index": index, "k": k,
                "witnessed": witnessed, "witnesses": by, "revoked_key": revoked,
                "checkpoint": note if witnessed else None, "size": size if witnessed else 0,
                "proof": [b64u(h) for h in log_.inclusion(index, size)] if witnessed
                else []}

    # -- alarms -----------------------------------------------------------------------
    def _alarmed(self, alarm: Alarm) -> None:
        log.error("fork alarm on %s (%s): %s", alarm.node, alarm.status,
                  alarm.evidence.get("detail"))
        for listener in list(self.alarm_listeners):
            try:
                listener(alarm)
            except Exception:
                log.exception("fork alarm listener failed")

    def status(self) -> dict[str, Any]:
        k = self.k()
        return {"k": k, "witness": self.witness.name,
                "logs": {lg.origin: {"size": lg.checkpoint()[0].size,
                                     "witnessed": self.collector.witnessed_size(lg.origin, k)}
                         for lg in self.collector.logs},
                "alarms": [a.to_json() for a in self.alarms.all()],
                "roster": sorted(self.roster.nodes)}


_SERVICES: dict[str, TrustService] = {}


def _gated(kind: str, inner: kinds.Checker) -> kinds.Checker:
    def gated(ctx: kinds.Context, body: Mapping[str, Any]) -> kinds.Write:
        svc = _SERVICES.get(ctx.ex.node_id)
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

