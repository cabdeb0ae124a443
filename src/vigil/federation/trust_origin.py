"""A share's place in its origin's log, proven to a member's client rather than told.

A member's client takes a share signed by a key its owner revoked from index ``after``
of the home node's log only if the share's entry is in that same log below ``after``
(:func:`vigil.protocol.witnessing.verify_signed_before`). The home of the signer is the
share's origin: a member publishes at its home, and a peer takes a share only from the
node that hosts its originator. So the proof is the origin's: its log's checkpoint with
k cosignatures of other nodes' witnesses and the inclusion proof of the share's entry.

- The origin answers ``GET /fed/v1/log/proof?index=N`` (:meth:`TrustOrigin.log_proof`):
  its newest checkpoint with k cosignatures and the inclusion proof of entry N in it,
  to its peers only (node-signed, like every peer route): hashes and a size, nothing a
  peer's witness does not see already.
- A node that received a share took the origin's index with the origin's signed log
  proof (``vigil.federation.kinds.check_log``); that checkpoint is seldom cosigned yet.
  When a member first asks, the node fetches the origin's cosigned proof, checks it
  against the origin's pinned key, the roster's witnesses and the entry it logged, and
  keeps it (``origin_proofs``), so the proof outlives the origin's answers
  (:meth:`TrustOrigin.origin_part`). It does not wait for a member for the shares that
  will need it: once a revocation is learnt, each witnessing round fetches the proofs
  of received shares signed by the revoked key below its point
  (:meth:`TrustOrigin.prefetch_origin_proofs`), while their origin (the home that
  revoked) answers.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx

from vigil.crypto.encoding import b64u
from vigil.crypto.kem import EncPrivate
from vigil.errors import VigilError
from vigil.federation import codec
from vigil.federation.trust_intake import TrustIntake
from vigil.federation.trust_peers import peer_client
from vigil.log.checkpoint import parse_checkpoint
from vigil.node.exchange import Exchange
from vigil.protocol.witnessing import verify_witnessed_entry
from vigil.storage import trust as tq

log = logging.getLogger("vigil.federation.trust")
PROOF_PATH = "/log/proof"
RETRY_AFTER = 5.0  # seconds before the origin of a share it gave no proof of is asked again

__all__ = ["PROOF_PATH", "TrustOrigin"]


class TrustOrigin(TrustIntake):
    """The origin-log proofs of a trust service (see the module's docstring)."""

    def __init__(self, ex: Exchange, *, cadence: float = 1.0,
                 hop_key: EncPrivate | None = None,
                 tls_pair: tuple[str, str] | None = None) -> None:
        super().__init__(ex, cadence=cadence, hop_key=hop_key, tls_pair=tls_pair)
        self._proof_retry: dict[str, float] = {}  # share -> when to ask its origin again

    def log_proof(self, index: int) -> dict[str, Any]:
        """Entry ``index`` of this node's log under its newest checkpoint with k
        cosignatures: ``{origin, index, witnessed, checkpoint, size, proof}``
        (``witnessed`` false, and no checkpoint, while none reaches the entry)."""
        log_ = self.ex.log
        k = self.k()
        note = self.collector.cosigned(log_.origin, k) if index >= 0 and k > 0 else None
        size = parse_checkpoint(note)[0].size if note is not None else 0
        ok = note is not None and index < size
        return {"origin": log_.origin, "index": index, "witnessed": ok,
                "checkpoint": note if ok else None, "size": size if ok else 0,
                "proof": [b64u(h) for h in log_.inclusion(index, size)] if ok else []}

    def prefetch_origin_proofs(self, limit: int = 20) -> int:
        """Fetch and keep the origin proofs of up to ``limit`` received shares signed by
        a since-revoked key below its point; how many were kept. An origin that gives
        none is not asked again in this round (nor for that share for ``RETRY_AFTER``)."""
        now = time.monotonic()
        failed = self._proof_retry
        for sid in [s for s, at in list(failed.items()) if at <= now]:
            del failed[sid]
        todo = self.ex.store.read(
            lambda sql: tq.unproven_before_revocation(sql, limit + len(failed)))
        kept, silent = 0, set()
        for share_id, origin, index in todo:
            if share_id in failed or origin in silent:
                continue
            if self.origin_part(share_id, origin, index)["witnessed"]:
                kept += 1
            else:
                silent.add(origin)
        return kept

    def origin_part(self, share_id: str, origin_node: str, index: int) -> dict[str, Any]:
        """The proof of a received share's entry at ``index`` of ``origin_node``'s log:
        the one kept, else the origin's fetched now, checked and kept; ``witnessed``
        false when there is none yet (the origin has no cosigned checkpoint reaching
        it, does not answer, or answers a proof that does not hold; it is asked again
        for that share ``RETRY_AFTER`` later, not at every request)."""
        kept = self.ex.store.read(lambda sql: tq.origin_proof(sql, share_id))
        if kept is not None:
            origin, idx, size, note, hashes = kept
            return {"origin": origin, "index": idx, "witnessed": True, "checkpoint": note,
                    "size": size, "proof": json.loads(hashes)}
        peer = next((p for p in self.peer_list() if p.node == origin_node), None)
        none: dict[str, Any] = {
            "origin": peer.log_origin if peer is not None else None, "index": index,
            "witnessed": False, "checkpoint": None, "size": 0, "proof": []}
        ref = self.ex.log.share_refs([share_id]).get(share_id)
        if peer is None or ref is None or self._proof_retry.get(share_id, 0.0) > time.monotonic():
            return none
        self._proof_retry[share_id] = time.monotonic() + RETRY_AFTER  # until it is kept
        try:
            target = httpx.URL(peer.url.rstrip("/") + PROOF_PATH, params={"index": index})
            signed = codec.sign_request(self.ex.node_key, "GET", target.raw_path.decode(),
                                        self.ex.node_id, peer.node, b"")
            with peer_client(self.ex, self.hop_key, peer, 10.0, self.tls_pair) as client:
                r = client.get(target, headers={codec.HEADER: signed})
            got = r.json() if r.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as e:
            log.info("%s gave no log proof of %s: %s", peer.name, share_id, e)
            return none
        if not isinstance(got, dict) or not got.get("witnessed") or got.get("index") != index:
            return none
        leaf = self.ex.log.entries(ref.index, ref.index + 1)[0][1]
        try:
            proven = verify_witnessed_entry(got, leaf, (peer.log_origin, peer.key),
                                            self.roster_witnesses(), self.k(),
                                            origin=peer.log_origin)
        except VigilError as e:
            log.warning("%s's log proof of %s does not hold: %s", peer.name, share_id,
                        e.message)
            return none
        size, note, proof = proven.checkpoint.size, proven.note, [str(h) for h in got["proof"]]
        self.ex.store.write(lambda sql: tq.put_origin_proof(
            sql, share_id, peer.log_origin, index, size, note, json.dumps(proof)))
        self._proof_retry.pop(share_id, None)
        return {"origin": peer.log_origin, "index": index, "witnessed": True,
                "checkpoint": note, "size": size, "proof": proof}
