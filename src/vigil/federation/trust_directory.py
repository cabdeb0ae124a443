"""The witnessed key directory of a node's trust service: the members it holds
registered, members' own entries (rotation, recovery, revocation, moves) countersigned,
members that moved here taken, and lookups passed on from a member's home."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

import httpx

from vigil import clock
from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keyring import Keyring
from vigil.directory.answers import answer_lookup
from vigil.directory.entries import (
    SignedEntry,
    countersign,
    enc_kid,
    next_entry,
    sign_entry,
    sign_kid,
)
from vigil.directory.log import DirectoryLog
from vigil.directory.rehome import verify_move
from vigil.errors import CryptoError, InputError, NotFound, Unavailable
from vigil.federation import kinds, outbox
from vigil.federation.peers import Peer
from vigil.federation.trust_peers import TrustPeers, peer_client
from vigil.log.entries import member_entry
from vigil.model import Member
from vigil.node import keylife
from vigil.node.exchange import Exchange
from vigil.storage import federation as fq
from vigil.storage import trust as tq
from vigil.storage.base import Sql
from vigil.storage.common import bump_directory


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


class TrustDirectory(TrustPeers):
    """The directory part of a trust service."""

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
        extends the member's chain. ``member`` comes from authentication. A revocation's
        ``after`` may not be past the end of this node's main log (``dir.bad_entry``)."""
        entry, sig = signed.get("entry"), signed.get("sig")
        if not isinstance(entry, Mapping) or entry.get("member") != member \
                or entry.get("home") != self.ex.node_id or not isinstance(sig, str):
            raise InputError("an entry of the caller's own, for this node, with its "
                             "signature", code="dir.bad_entry")
        after = entry.get("after")
        if entry.get("kind") == "revoke" and isinstance(after, int) \
                and not isinstance(after, bool) and after > self.ex.log.size():
            # `after` counts this node's main log: a point it has not reached would
            # leave the key good for every share logged until then
            raise InputError(f"a revocation point past the end of this node's log "
                             f"({self.ex.log.size()} entries)", code="dir.bad_entry")
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
            with peer_client(self.ex, self.hop_key, home, 10.0, self.tls_pair) as client:
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


def _kid_of(key: Any) -> Any:
    return key.get("id") if isinstance(key, Mapping) else None


