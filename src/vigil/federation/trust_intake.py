"""What a node's trust service checks of its peers: the trust part of heartbeats
(checkpoints, fork evidence, revocations, the roster) given and taken, and every item
from a peer gated (fork alarm, roster, revoked key, a member's directory proof)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from vigil.directory.answers import answer_lookup
from vigil.directory.entries import (
    MemberKeys,
    SignedEntry,
    enc_kid,
    fold,
)
from vigil.directory.lookup import verify_lookup
from vigil.directory.rehome import verify_move
from vigil.directory.revocation import refuse
from vigil.errors import CryptoError, NotFound
from vigil.federation import kinds, outbox
from vigil.federation.peers import Peer
from vigil.federation.trust_peers import TrustPeers
from vigil.protocol.witnessing import witness_name
from vigil.storage import trust as tq


class TrustIntake(TrustPeers):
    """The heartbeat and intake part of a trust service."""

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
        ``fed.no_directory_proof``; keys other than the chain's current ones (or, once
        the chain revoked its signing key, that revoked key) are
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
        # a key the chain revoked, with no new one yet: the home's `revoke` key event,
        # which takes nothing back (the directory's revocation refuses the key's later
        # signatures on every node)
        revoked = keys.sign_key is None and mj["sign_key_id"] in keys.revoked
        if (keys.sign_key_id != mj["sign_key_id"] and not revoked) \
                or enc_kid(keys.enc_key) != mj["enc_key_id"]:
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
        """After a share's own checks: its key, not revoked at its index, recorded.
        The revocation points of every key the batch's shares name are read with one
        statement, and read again after any item that writes something else than a
        share (``Context.forget``); the key uses are stored together with the shares
        (``Context.flush``), before any other kind of item is checked."""
        if body.get("gone"):
            return
        env, ref = body["envelope"], body["log"]
        header = env["header"]
        kid, index = str(header["key"]), int(ref["index"])
        points = ctx.revoked
        if points is None or kid not in points:  # every key of the batch, at once
            kids = {kid} | {str(p.env.header["key"]) for p in ctx.prepared.values()
                            if p.env is not None}
            points = ctx.revoked = self.revocations.points(ctx.sql, sorted(kids))
        refuse(kid, index, points[kid])
        ctx.key_uses.append((str(header["id"]), ctx.peer.node, kid, index))


def _same_keys(keys: MemberKeys, mj: Mapping[str, Any]) -> bool:
    return bool(keys.sign_key_id == mj["sign_key_id"]
                and enc_kid(keys.enc_key) == mj["enc_key_id"])


