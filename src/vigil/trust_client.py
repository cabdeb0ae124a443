"""The SDK side of federation trust: a client that shows a share only once it is
witnessed, takes another node's member keys only with their proofs, and watches its own
directory entries.

``TrustingClient`` is a :class:`vigil.client.Client` with:

- ``require_witnessed``: :meth:`get` shows a share only once it has checked, itself,
  that the share's log entry is under a checkpoint of the node's log which the node key
  signed and ``k`` witnesses it pinned (``witnesses``: name -> Ed25519 key, of other
  nodes) cosigned (:func:`vigil.protocol.witnessing.verify_witnessed_entry`); the node's
  word is never enough. ``client.not_witnessed`` means not yet: ask again a second
  later; ``witness.quorum``, ``log.bad_inclusion``, ``log.unsigned`` and the other codes
  there mean the node's proof does not hold;
- :meth:`verify` (so :meth:`get`, whichever option): another node's member's share is
  taken only with :meth:`proven_signer`, and one signed by a key its home revoked later
  is shown "signed before revocation" only with the home's proof of its place
  (refused otherwise);
- :meth:`lookup`: a remote member's keys from its home node's directory, accepted only
  through :func:`vigil.directory.lookup.verify_lookup` (``dir.bad_lookup`` otherwise);
- :meth:`proven_signer`: the same for the originator of a share, through the member's
  own node, and the share's signature checked with the key so proven (the gateway's
  check);
- :meth:`monitor`: one poll of the member's own directory entries
  (:class:`vigil.directory.monitor.OwnerMonitor`): alarms at once on an entry it did not
  sign.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from vigil.client import Client, Share
from vigil.client.keys import SIGNED_BEFORE_REVOCATION
from vigil.crypto.keys import SignPrivate
from vigil.directory.entries import MemberKeys, member_signature
from vigil.directory.lookup import chain_sign_keys, verify_lookup
from vigil.directory.monitor import MonitorAlarm, OwnerMonitor
from vigil.errors import CryptoError, InputError, PolicyDenied
from vigil.log.entries import entry_bytes, share_entry
from vigil.model import Envelope, Provenance
from vigil.policy.suites import SUITE_REQUIRED, meets_hybrid
from vigil.protocol.envelope import verify_envelope, verify_header
from vigil.protocol.witnessing import (
    Witnessed,
    quorum,
    verify_signed_before,
    verify_witnessed_entry,
    witness_name,
)

__all__ = ["TrustingClient", "load_witnesses", "refuse_foreign"]
PROVEN_FOR = 60.0  # seconds a proven key is taken without asking again (revocations)


class TrustingClient(Client):
    def __init__(self, url: str, token: str, *args: Any, require_witnessed: bool = False,
                 witnesses: Mapping[str, bytes] | None = None, k: int | None = None,
                 **kw: Any) -> None:
        """``witnesses``: the cosigner name and Ed25519 public key of every node of the
        roster, pinned by the member (from its operator, out of band); a node's own
        witness never counts for its log. ``k``: how many of them must cosign (default:
        the quorum for a roster of that many nodes)."""
        self.require_witnessed = require_witnessed
        self.witness_keys = dict(witnesses or {})
        self.k = k if k is not None else quorum(len(self.witness_keys))
        if require_witnessed and (not self.witness_keys or self.k < 1):
            raise InputError("requiring witnessing needs the witness keys to pin",
                             code="client.no_witnesses")
        # (member, key id) -> (until, keys, public key, home) proven by a directory lookup
        self._proven_keys: dict[tuple[str, str], tuple[float, MemberKeys, bytes, str]] = {}
        super().__init__(url, token, *args, **kw)

    def witnessed(self, share_id: str) -> dict[str, Any]:
        """The node's answer, unchecked: witnessed or not, its checkpoint with the
        cosignatures, the share entry's index and inclusion proof, and whether the share
        was signed by a key revoked at its index."""
        out: dict[str, Any] = self._call("GET", f"/api/v1/federation/witnessed/{share_id}")
        return out

    def check_witnessed(self, env: Envelope) -> Witnessed:
        """Prove, with the keys this client pinned, that the share ``env`` (as this client
        holds it) is witnessed: the node's answer is only the material of the proof."""
        log = self.log_verifier()
        got = verify_witnessed_entry(self.witnessed(env.id), entry_bytes(share_entry(env)),
                                     (log.key_name, log.public_raw), self.witness_keys,
                                     self.k, origin=log.origin)
        log.accept(got.note)  # one history: consistent with every checkpoint accepted
        return got

    def verify(self, env: Envelope, *, header_only: bool = False) -> str:
        """Who signed, as :meth:`vigil.client.Client.verify` says it, with another
        node's member's key taken only as its home's witnessed directory proves it
        (:meth:`proven_signer`): a share signed by a key the home revoked is shown
        "signed before revocation" only with the home's proof that it was logged before
        the revocation point, and refused otherwise (``keys.revoked``,
        ``keys.order_unproven``…); with no witnesses pinned such a share is refused
        (``dir.key_unproven``), as the gateway refuses it. :meth:`get`, the gateway
        and ``vigil show --witnesses`` all say what this says."""
        if env.header.get("provenance") == Provenance.ATTESTED.value \
                or "@" not in str(self.member(env.originator)["name"]):
            return super().verify(env, header_only=header_only)
        if self.require_hybrid and not meets_hybrid(env.header):
            raise PolicyDenied("the share is not signed and sealed in the hybrid suites",
                               code=SUITE_REQUIRED)
        keys = self.proven_signer(env, header_only=header_only)  # no witnesses: refused
        m = self.member(env.originator)
        kid = str(env.header["key"])
        return (f"signed by {m['display_name']} (member:{m['name']}, {kid}), verified"
                + (f", {SIGNED_BEFORE_REVOCATION}" if keys is not None
                   and kid in keys.revoked else ""))

    def get(self, share_id: str, *, purpose: str | None = None) -> Share:
        if not self.require_witnessed:
            return super().get(share_id, purpose=purpose)
        env, _ = self.envelope(share_id)
        proven = self.check_witnessed(env)
        share = super().get(share_id, purpose=purpose)
        if entry_bytes(share_entry(share.envelope)) != entry_bytes(share_entry(env)) \
                or share.log_index not in (None, proven.index):
            raise CryptoError("the node served another share than the one proven witnessed",
                              code="log.entry_mismatch")
        return share

    def submit_entry(self, entry: Mapping[str, Any], signer: SignPrivate,
                     monitor: OwnerMonitor | None = None) -> int:
        """Sign one of this member's directory entries (a rotation with the old key, a
        recovery with the recovery key…) and hand it to the home node; its index. The
        monitor remembers it first, so it never alarms on the member's own entry."""
        if monitor is not None:
            monitor.signed(entry)
        doc = {"entry": dict(entry), "sig": member_signature(entry, signer)}
        out: dict[str, Any] = self._call("POST", "/api/v1/directory/entries", json=doc)
        return int(out["index"])

    def proven_signer(self, env: Envelope, *, header_only: bool = False
                      ) -> MemberKeys | None:
        """The originator's keys as its home node's directory proves them, and the share's
        signature checked with the key so proven -- never with the key the node serves.

        With pinned witnesses: the node only carries the home's lookup
        (``GET /api/v1/directory/lookup/{member}``), which must verify against the
        pinned witnesses (the home's checkpoint, k cosignatures, inclusion proofs, the
        member's signed chain: ``dir.bad_lookup`` otherwise), and the key that signed the
        share must be one the chain registered (``dir.key_unproven``). A key the chain
        revoked is taken only for a share proven logged by the member's home before the
        revocation point (:meth:`_signed_before`; ``keys.revoked`` at or past it): the
        caller shows it as "signed before revocation" (the returned keys' ``revoked``
        names the key).
        Without pinned witnesses, and for a share the node attests (signed by its own
        key, which only its own members' posts may be), only the node's own members are
        taken, on its log proof (:meth:`verify`; None then); a member the node names as
        another node's (``name@node``) is ``dir.key_unproven``."""
        member = env.originator
        kid = str(env.header["key"])
        attested = env.header.get("provenance") == Provenance.ATTESTED.value
        if attested or not self.witness_keys:
            # attested: signed by this member's own node (whose key the log state pins),
            # which attests only what its own members post
            refuse_foreign(self, member)
            return None
        now = time.monotonic()
        held = self._proven_keys.get((member, kid))
        if held is None or held[0] < now:
            got = self._call("GET", f"/api/v1/directory/lookup/{member}")
            home = str(got.get("home"))
            home_key = self.witness_keys.get(witness_name(home))
            if home_key is None:
                raise CryptoError(f"{member}'s home {home} is not among the pinned "
                                  "witnesses", code="dir.key_unproven")
            keys = verify_lookup(got["answer"], home, home_key, self.witness_keys, self.k,
                                 member)
            registered = chain_sign_keys(got["answer"], home, home_key)
            if kid not in registered:
                raise CryptoError(f"the share is signed by {kid}, which {member}'s witnessed "
                                  "directory entries do not hold", code="dir.key_unproven")
            held = (now + PROVEN_FOR, keys, registered[kid], home)
            self._proven_keys[(member, kid)] = held
        after = held[1].revoked.get(kid)
        if after is not None:
            self._signed_before(env, kid, after, held[3])
        check = verify_header if header_only else verify_envelope
        try:
            check(env, held[2])
        except CryptoError as e:
            raise CryptoError(f"the share does not verify with {member}'s witnessed key: "
                              f"{e.message}", code="dir.key_unproven") from None
        return held[1]

    def _signed_before(self, env: Envelope, kid: str, after: int, home: str) -> None:
        """Take a share signed by ``kid``, revoked from index ``after`` of ``home``'s log,
        only with the proof that ``home`` logged it below ``after``: the node's
        ``origin_proof`` (its own log's, or the origin's cosigned proof it kept for a
        received share) checked against ``home``'s pinned key, ``k`` pinned witnesses
        and the entry rebuilt from ``env``, then compared
        (:func:`vigil.protocol.witnessing.verify_signed_before`: ``keys.revoked``,
        ``keys.order_unproven``, ``keys.other_log`` and the proof's own codes)."""
        home_key = self.witness_keys.get(witness_name(home))
        if home_key is None:
            raise CryptoError(f"{home} is not among the pinned witnesses",
                              code="dir.key_unproven")
        try:
            verify_signed_before(self.witnessed(env.id), entry_bytes(share_entry(env)),
                                 home, home_key, self.witness_keys, self.k, after)
        except CryptoError as e:
            if e.code == "keys.revoked":
                raise
            raise CryptoError(f"the share is signed by {kid}, revoked from log index "
                              f"{after} of its home, and not proven logged before it: "
                              f"{e.message}", code=e.code) from None

    @staticmethod
    def lookup(home_url: str, home: str, home_key: bytes, member: str,
               witnesses: Mapping[str, bytes], k: int,
               http: httpx.Client | None = None) -> MemberKeys:
        """``member``'s keys at its home node, only if the answer proves them. A member
        whose proven chain ends in a move to another node raises ``dir.moved`` with that
        node (``detail["to"]``): its keys are to be looked up there."""
        own = http is None
        client = http or httpx.Client(timeout=10.0)
        try:
            r = client.get(home_url.rstrip("/") + "/fed/v1/directory/lookup",
                           params={"member": member})
            r.raise_for_status()
            keys = verify_lookup(r.json(), home, home_key, witnesses, k, member)
        finally:
            if own:
                client.close()
        if keys.moved_to is not None:
            raise CryptoError(f"{member} moved from {home} to {keys.moved_to}; look it up "
                              f"there", code="dir.moved", detail={"to": keys.moved_to})
        return keys

    @staticmethod
    def monitor(home_url: str, monitor: OwnerMonitor,
                http: httpx.Client | None = None) -> list[MonitorAlarm]:
        """One poll of the home node's directory log by the member's own monitor."""
        own = http is None
        client = http or httpx.Client(timeout=10.0)
        try:
            def fetch(start: int) -> dict[str, Any]:
                r = client.get(home_url.rstrip("/") + "/fed/v1/directory/log",
                               params={"start": start})
                if r.status_code == 404:
                    return {"checkpoint": "", "entries": []}
                r.raise_for_status()
                out: dict[str, Any] = r.json()
                return out
            return monitor.poll(fetch)
        finally:
            if own:
                client.close()


def refuse_foreign(client: Client, member: str) -> None:
    """``dir.key_unproven`` for a member the node names as another node's
    (``name@node``): without pinned witnesses its keys cannot be proven."""
    if "@" in str(client.member(member)["name"]):
        raise CryptoError(f"{member} is another node's member: its keys are taken only "
                          "with its home's witnessed directory, and no witnesses are "
                          "pinned", code="dir.key_unproven")


def load_witnesses(path: Path) -> dict[str, bytes]:
    """Pinned witnesses from a JSON file: ``{name: hex key}``, or the ``witnesses`` list
    of ``GET /api/v1/federation/trust`` (``[{name, key}]``) as an operator hands it on."""
    try:
        doc = json.loads(path.read_text("utf-8"))
        if isinstance(doc, dict) and "witnesses" in doc:
            doc = doc["witnesses"]
        pairs = doc.items() if isinstance(doc, dict) else \
            ((w["name"], w["key"]) for w in doc)
        out = {str(name): bytes.fromhex(str(key)) for name, key in pairs}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not a witness list ({e})", code="client.no_witnesses") \
            from None
    if any(len(k) != 32 for k in out.values()):
        raise InputError(f"{path}: a witness key is not 32 bytes", code="client.no_witnesses")
    return out
