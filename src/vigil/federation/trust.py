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
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from vigil import clock
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.kem import EncPrivate
from vigil.crypto.keyring import Keyring
from vigil.directory.answers import answer_lookup
from vigil.directory.entries import (
    MemberKeys,
    SignedEntry,
    countersign,
    directory_origin,
    enc_kid,
    fold,
    next_entry,
    sign_entry,
    sign_kid,
)
from vigil.directory.log import DirectoryLog
from vigil.directory.lookup import verify_lookup
from vigil.directory.rehome import verify_move
from vigil.directory.revocation import Revocations
from vigil.errors import CryptoError, InputError, NotFound, Unavailable
from vigil.federation import kinds, outbox, receiver, transport
from vigil.federation.peers import Peer, peers
from vigil.log.checkpoint import parse_checkpoint
from vigil.log.entries import member_entry
from vigil.model import Member
from vigil.node import keylife
from vigil.node.exchange import Exchange
from vigil.protocol.witnessing import quorum, witness_name
from vigil.roster.roster import Roster
from vigil.storage import federation as fq
from vigil.storage import trust as tq
from vigil.storage.base import Sql
from vigil.storage.common import bump_directory
from vigil.witness.alarms import Alarm, Alarms
from vigil.witness.collector import Collector, WitnessPeer
from vigil.witness.service import Witness
from vigil.witness.wire import NOTE_CONTENT_TYPE

log = logging.getLogger("vigil.federation.trust")
WITNESS_PATH = "/witness/add-checkpoint"

__all__ = ["TrustService", "witness_name"]


def peer_client(ex: Exchange, hop_key: EncPrivate | None, peer: Peer,
                timeout: float) -> httpx.Client:
    """A sync client to ``peer``, pinned to its TLS key when it has one; through its
    relay for a peer added ``via`` one (which takes this node's hop key)."""
    if hop_key is None or peer.via is None:
        return transport.direct_sync(peer, timeout)
    return transport.sync_client(ex, hop_key, peer, timeout)


def register_keys(ex: Exchange, kr: Keyring, directory: DirectoryLog | None = None) -> int:
    """Register a member's keys in this node's key directory, signed by its own key
    (its keyring, held here or just made here); the entry's index (its first one if it
    has entries already). The member's key event is queued again for every peer in the
    same transaction: peers refuse announcements made without the entry."""
    d = directory or DirectoryLog(ex.store, ex.node_id, ex.node_key)
    mine = d.member_entries(kr.member_id)
    if mine:
        return mine[0][0]
    entry = next_entry(None, "register", kr.member_id, ex.node_id, sign_key=kr.sign_private,
                       enc_key=kr.enc_public)
    return d.append(sign_entry(entry, kr.sign_private, ex.node_key),
                    lambda sql: outbox.reannounce(sql, kr.member_id))


class TrustService:
    def __init__(self, ex: Exchange, *, cadence: float = 1.0,
                 hop_key: EncPrivate | None = None) -> None:
        self.ex = ex
        self.hop_key = hop_key  # for peers reached through a relay
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
        self._k_seen: int | None = None  # k when the peers were last read
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self._round: asyncio.Future[dict[str, int]] | None = None
        self._registered: set[str] = set()  # held members with a directory entry
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
        k = self.k()
        with self._lock:
            grew, self._k_seen = self._k_seen is not None and k > self._k_seen, k
        if grew:
            # peers that count k higher refused announcements proven with fewer
            # cosignatures (while this node had fewer peers): they go again, with more
            self.ex.store.write(lambda sql: outbox.reannounce(sql))
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
                client = self._clients[peer.node] = peer_client(self.ex, self.hop_key,
                                                                   peer, 5.0)
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
        held = dict(self.ex.held)
        if set(held) <= self._registered:
            return 0
        have = {e.member for _, e in self.directory.entries()}
        added = 0
        for member, kr in sorted(held.items()):
            if member not in have:
                entry = next_entry(None, "register", member, self.ex.node_id,
                                   sign_key=kr.sign_private, enc_key=kr.enc_public)
                self.directory.append(sign_entry(entry, kr.sign_private, self.ex.node_key))
                added += 1
            self._registered.add(member)  # after its entry: a failed one is tried again
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

        def moved(sql: Sql) -> None:  # hosted here no more: its shares go there
            tq.home_at(sql, member, str(to), -1)
            bump_directory(sql)

        def announce(sql: Sql) -> None:  # peers refused what the directory lacked
            outbox.reannounce(sql, member)
        # a move and its routing commit together: never an appended move with the
        # member still hosted here, nor a member routed away without its signed move
        kind = entry.get("kind")
        index = self.directory.append(countersigned, moved if kind == "rehome" else
                                      announce if kind in ("register", "rotate", "recover")
                                      else None)
        if entry.get("kind") == "revoke":
            self.revocations.learn(countersigned, self.ex.node_key_raw)
        return index

    def rotate(self, member: str, doc: Mapping[str, Any], signed: Any) -> Member:
        """A member's key rotation (``vigil.node.keylife.rotate``) with its directory
        entry ``signed`` (``{entry, sig}``: a ``rotate`` to the statement's new keys,
        signed by the old key), both in one transaction: peers take the new keys only
        with the directory's proof. ``dir.bad_entry`` when the entry is not that."""
        st = doc.get("statement") if isinstance(doc, Mapping) else None
        if not isinstance(signed, Mapping) or not isinstance(signed.get("entry"), Mapping) \
                or not isinstance(signed.get("sig"), str) or not isinstance(st, Mapping):
            raise InputError("directory is the rotation's entry {entry, sig}",
                             code="dir.bad_entry")
        entry = signed["entry"]
        try:
            new_sign = sign_kid(b64u_decode(str(entry.get("sign_key"))))
            new_enc = enc_kid(b64u_decode(str(entry.get("enc_key"))))
        except (CryptoError, ValueError):
            raise InputError("the directory entry names malformed keys",
                             code="dir.bad_entry") from None
        if entry.get("kind") != "rotate" or entry.get("member") != member \
                or entry.get("home") != self.ex.node_id or entry.get("by") != "member" \
                or new_sign != _kid_of(st.get("sign_key")) \
                or new_enc != _kid_of(st.get("enc_key")):
            raise InputError("the directory entry is not this rotation of the caller's "
                             "keys at this node", code="dir.bad_entry")
        countersigned = countersign(entry, str(signed["sig"]), self.ex.node_key)
        try:
            return keylife.rotate(self.ex, member, doc,
                                  also=lambda sql: self._append_in(sql, countersigned))
        except Exception:
            self.directory.reload()  # the transaction rolled back: forget the entry
            raise

    def _append_in(self, sql: Sql, signed: SignedEntry) -> None:
        self.directory.append_in(sql, signed)

    def take_member(self, member: str, answer: Mapping[str, Any]) -> None:
        """Host ``member``, which moved here from the node it is homed at: ``answer`` is
        that node's lookup of it, which must end in a move here with the keys this node
        holds for it (``dir.not_moved`` otherwise). The member is announced from this
        node's log, the answer attached as the proof of the move."""
        home = self.ex.store.read(lambda sql: fq.remote_member(sql, member))
        old = next((p for p in self.peer_list() if home is not None and p.node == home[0]),
                   None)
        if home is None or old is None:
            raise NotFound(f"{member} is not homed at a peer", code="dir.not_moved",
                           status=422)
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
            bump_directory(sql)
        self.ex.store.write(run)

    def take(self, member: str) -> str:
        """Host ``member``, which moved here: its home peer's lookup is fetched and
        taken (:meth:`take_member`); the old home's id. ``dir.not_moved`` for a member
        not homed at a peer (or homed here), ``dir.home_unreachable`` when the old home
        does not answer, or the old home's own error (``dir.not_witnessed``: ask again
        in a second)."""
        got = self.ex.store.read(lambda sql: fq.remote_member(sql, member))
        home = next((p for p in self.peer_list() if got is not None and p.node == got[0]),
                    None)
        if home is None:
            raise NotFound(f"{member} is not homed at a peer", code="dir.not_moved",
                           status=422)
        r = self._ask_home(home, member)
        if r.status_code != 200:
            err: Any = {}
            with contextlib.suppress(ValueError):
                err = r.json().get("error", {})
            code = err.get("code") if isinstance(err, Mapping) else None
            if code == "dir.not_witnessed":
                raise NotFound(f"{home.name} has no witnessed entry of {member} yet; ask "
                               f"again in a second", code="dir.not_witnessed")
            raise Unavailable(f"{home.name} answered {r.status_code} {code or ''} to the "
                              f"lookup", code="dir.home_unreachable")
        try:
            answer = r.json()
        except ValueError:
            raise CryptoError(f"{home.name}'s lookup is not JSON",
                              code="dir.bad_lookup") from None
        self.take_member(member, answer)
        return home.node

    def _ask_home(self, home: Peer, member: str) -> httpx.Response:
        """The answer of ``home`` to a directory lookup of ``member``
        (``dir.home_unreachable`` when it gives none)."""
        try:
            with peer_client(self.ex, self.hop_key, home, 10.0) as client:
                return client.get(home.url.rstrip("/") + "/directory/lookup",
                                  params={"member": member})
        except httpx.HTTPError as e:
            raise Unavailable(f"{home.name} did not answer the lookup: {e}",
                              code="dir.home_unreachable") from None

    def member_lookup(self, member: str) -> dict[str, Any]:
        """For a member's client or gateway: ``{"home", "answer"}``, the directory lookup
        of ``member`` at its home node -- this node's own for a member hosted here, else
        the home peer's answer fetched now (directly or through its relay) and passed on
        as it came. This node vouches for nothing: the client checks the answer against
        the witnesses it pinned. ``dir.unknown_member`` for a member of no known home;
        ``dir.home_unreachable`` when the home does not answer."""
        got = self.ex.store.read(lambda sql: fq.remote_member(sql, member))
        if got is None:
            return {"home": self.ex.node_id,
                    "answer": answer_lookup(self.directory, self.collector, member, self.k())}
        home = next((p for p in self.peer_list() if p.node == got[0]), None)
        if home is None:
            raise NotFound(f"no directory entry for {member} here",
                           code="dir.unknown_member")
        r = self._ask_home(home, member)
        if r.status_code == 404:
            raise NotFound(f"{home.name} has no witnessed entry of {member} (yet)",
                           code="dir.not_witnessed")
        if r.status_code != 200:
            raise Unavailable(f"{home.name} answered {r.status_code} to the lookup",
                              code="dir.home_unreachable")
        try:
            answer = r.json()
        except ValueError:
            raise CryptoError(f"{home.name}'s lookup is not JSON",
                              code="dir.bad_lookup") from None
        return {"home": home.node, "answer": answer}

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
        self.register_held()  # the members held here, added since the last round too
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

    def roster_witnesses(self) -> dict[str, bytes]:
        """The cosigners whose cosignatures count at intake: every node of the roster,
        under its roster key (without a roster: this node and its pinned peers). The
        origin's own never counts for its log."""
        on = self.roster.nodes
        if on:
            return {witness_name(node): key for node, key in on.items()}
        return self.witnesses()

    def check_announcement(self, home: str, home_key: bytes, body: Mapping[str, Any]) -> None:
        """A member's keys announced by its home node, against the member's directory
        entries the item carries (``directory``: the home node's lookup answer). The
        answer must hold as a lookup: the home node's signed checkpoint cosigned by at
        least k distinct roster nodes other than the home (valid cosignatures only),
        every inclusion proof, the member's chain with its signatures
        (``fed.bad_directory_proof`` otherwise); an announcement without one is
        ``fed.no_directory_proof``; keys other than the chain's current ones are
        ``fed.directory_mismatch``. The item is quarantined with its body and the signed
        batch head as the evidence. A revocation (``deactivate``) only takes trust away:
        it is taken without a proof (heartbeats carry it ahead of the queue). A member
        that moved to ``home`` and has no entry in its directory yet is proven by its
        move instead (``moved``: its old home's lookup, held to the same rules, ending
        in a move to ``home``)."""
        proof = body.get("directory")
        mj, entry = body["member"], body["entry"]
        revocation = entry.get("event") == "deactivate"
        moved = body.get("moved")
        if proof is None and revocation:
            return
        if proof is None and not isinstance(moved, Mapping):
            raise CryptoError(f"{mj['id']} is announced without its witnessed directory "
                              f"entries", code="fed.no_directory_proof")
        witnesses, k = ({}, 0) if revocation else (self.roster_witnesses(), self.k())
        try:
            if proof is not None:
                keys = verify_lookup(proof, home, home_key, witnesses, k, str(mj["id"]))
            else:
                assert isinstance(moved, Mapping)
                old = next((p for p in self.peer_list() if p.node == moved.get("home")),
                           None)
                if old is None:
                    raise CryptoError("a move from a node this node does not peer with",
                                      code="dir.not_moved")
                keys = verify_move(moved, old.node, old.key, witnesses, k, str(mj["id"]),
                                   home)
        except CryptoError as e:
            raise CryptoError(f"the member's directory proof does not hold: {e.message}",
                              code="fed.bad_directory_proof") from None
        if revocation:
            return
        if keys.sign_key_id != mj["sign_key_id"] or enc_kid(keys.enc_key) != mj["enc_key_id"]:
            raise CryptoError(f"{mj['id']}'s announced keys are not the ones its directory "
                              f"entries hold", code="fed.directory_mismatch")

    def member_proofs(self, member: str, body: Mapping[str, Any],
                      dest: str | None = None) -> dict[str, Any]:
        """What a member's announcement carries: its directory entries here under a
        checkpoint with k cosignatures (``directory``) and, if it moved here, its old
        home's lookup showing the move (``moved``). For a peer ``dest`` the checkpoint is
        one ``dest`` cosigned itself, so its own count never falls short for a witness it
        does not know yet. Raises :class:`outbox.Held` while the
        announced keys are in the directory but not yet under such a checkpoint (a
        registration or rotation being witnessed): the announcement waits for it rather
        than be refused. A member with no directory entry at all is announced without
        one (peers refuse it: ``fed.no_directory_proof``)."""
        out: dict[str, Any] = {}
        try:
            out["directory"] = answer_lookup(self.directory, self.collector, member,
                                             self.k(), self._cosigner(dest))
        except NotFound as e:
            if e.code == "dir.not_witnessed" or member in self.ex.held:
                # being witnessed, or a held member the next round registers
                raise outbox.Held(member) from None
        mj = body["member"]
        if "directory" in out and body["entry"].get("event") != "deactivate":
            witnessed = fold([SignedEntry.from_json(x["entry"])
                              for x in out["directory"]["entries"]],
                             self.ex.node_id, self.ex.node_key_raw)
            if not _same_keys(witnessed, mj):
                with contextlib.suppress(CryptoError):
                    if _same_keys(self.directory.keys(member), mj):
                        raise outbox.Held(member)  # the newer entry is being witnessed
        moved = self.ex.store.read(lambda sql: tq.move_proof(sql, member))
        if moved is not None:
            out["moved"] = json.loads(moved)
        return out

    @staticmethod
    def _cosigner(dest: str | None) -> str | None:
        """``dest``'s witness name (every peer witnesses this node's logs)."""
        return None if dest is None else witness_name(dest)

    def share_key(self, ctx: kinds.Context, body: Mapping[str, Any]) -> None:
        """After a share's own checks: its key, not revoked at its index, recorded."""
        if body.get("gone"):
            return
        env, ref = body["envelope"], body["log"]
        header = env["header"]
        self.revocations.record_use(ctx.sql, str(header["id"]), ctx.peer.node,
                                    str(header["key"]), int(ref["index"]))

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
        ``origin_index``: its index in its origin's log (this node's, for its own)."""
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
                "origin_index": use[1] if use is not None else index,
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


class Installed:
    """The trust service installed on an exchange (its gate checks every item)."""

    def __init__(self) -> None:
        self.service: TrustService | None = None


def service_of(ex: Exchange) -> TrustService | None:
    installed = ex.part(Installed)
    return installed.service if installed is not None else None


def _kid_of(key: Any) -> Any:
    return key.get("id") if isinstance(key, Mapping) else None


def _same_keys(keys: MemberKeys, mj: Mapping[str, Any]) -> bool:
    return bool(keys.sign_key_id == mj["sign_key_id"]
                and enc_kid(keys.enc_key) == mj["enc_key_id"])


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

