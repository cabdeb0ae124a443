"""Re-homing: a member moves from node A to node B, on its own signed ``rehome`` entry.

1. The member signs a ``rehome`` entry (``to`` = B's node id) with its current key and
   hands it to A (``POST /api/v1/directory/entries``). A appends it (after it, the
   chain takes no entry at A) and, in the same transaction, treats the member as homed
   at B: it hosts it no more, so shares addressed to it from A go to B
   (:meth:`vigil.federation.trust.TrustService.submit_entry`).
2. B takes the member (``POST /api/v1/directory/take`` by the member signed in at B,
   or ``vigil directory take``: :meth:`~vigil.federation.trust.TrustService.take`
   fetches A's lookup answer, :meth:`~vigil.federation.trust.TrustService.take_member`
   takes it in one transaction): :func:`verify_move` checks it as any lookup (A's pinned key, k
   cosignatures, every proof, the chain) and that the chain ends in a move to B with
   the keys B holds for the member. B hosts it from then on, keeps the answer as the
   proof of the move, and announces the member from its own log, the proof attached
   (``moved``).
3. Every other node takes B's announcement of a member it knows homed at A only with
   that proof, checked with A's pinned key; the member's home becomes B. Without it
   the announcement is a forged originator (``fed.forged_originator``).
4. A client looking the member up at A gets ``dir.moved`` naming B
   (:meth:`vigil.trust_client.TrustingClient.lookup`), and asks B.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.directory.entries import MemberKeys
from vigil.directory.lookup import verify_lookup
from vigil.errors import CryptoError

__all__ = ["verify_move"]


def verify_move(answer: Mapping[str, Any], old_home: str, old_key: bytes,
                witnesses: Mapping[str, bytes], k: int, member: str,
                new_home: str) -> MemberKeys:
    """The member's keys at the move, if ``answer`` (``old_home``'s lookup) proves that
    it moved to ``new_home`` (``dir.not_moved`` otherwise; ``dir.bad_lookup`` for a
    lookup that does not hold)."""
    keys = verify_lookup(answer, old_home, old_key, witnesses, k, member)
    if keys.moved_to != new_home:
        raise CryptoError(f"{member}'s directory at {old_home} shows no move to {new_home}",
                          code="dir.not_moved")
    return keys
