"""How many cosignatures make a checkpoint witnessed, and checking a quorum.

With n nodes on the roster a node's log has n - 1 peer witnesses; a checkpoint is
witnessed with k = min(3, ceil((n - 1) / 2)) of their cosignatures (at least 1 once
there is a peer). A member's client checks the quorum itself: the log's signature, then
k valid cosignatures of witnesses it knows (by their vkeys, from the roster).
"""

from __future__ import annotations

from collections.abc import Mapping

from vigil.errors import CryptoError
from vigil.log.checkpoint import Checkpoint
from vigil.log.note import check_signatures, parse_note
from vigil.witness.cosignature import cosigners, node_of_origin

MAX_K = 3

__all__ = ["quorum", "verify_witnessed"]


def quorum(nodes: int) -> int:
    """k for a roster of ``nodes`` nodes: min(3, ceil((nodes - 1) / 2)), at least 1 when
    there is any peer, 0 for a node alone."""
    peers = max(0, nodes - 1)
    if peers == 0:
        return 0
    return max(1, min(MAX_K, -(-peers // 2)))


def verify_witnessed(note: str, log_key: tuple[str, bytes], witnesses: Mapping[str, bytes],
                     k: int, *, origin: str | None = None) -> tuple[Checkpoint, dict[str, int]]:
    """The checkpoint in ``note`` and its valid cosigners, if the log signed it and at
    least ``k`` known witnesses of other nodes than the log's own cosigned it.

    Raises ``CryptoError`` ``witness.quorum`` when fewer than ``k`` cosign."""
    text, sigs = parse_note(note)
    cp = Checkpoint.from_body(text)
    if origin is not None and cp.origin != origin:
        raise CryptoError(f"checkpoint of {cp.origin}, expected {origin}",
                          code="witness.quorum")
    check_signatures(text, sigs, log_key[0], log_key[1])
    home = node_of_origin(cp.origin)
    others = {name: pub for name, pub in witnesses.items() if node_of_origin(name) != home}
    found = cosigners((text, sigs), others)
    if len(found) < k:
        raise CryptoError(f"{len(found)} of the {k} cosignatures needed",
                          code="witness.quorum")
    return cp, found
