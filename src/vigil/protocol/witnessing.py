"""How many cosignatures make a checkpoint witnessed, and checking a quorum, on the
member side as on a node (nothing here imports node code).

With n nodes on the roster a node's log has n - 1 peer witnesses; a checkpoint is
witnessed with k = min(3, ceil((n - 1) / 2)) of their cosignatures (at least 1 once
there is a peer). A member's client checks the quorum itself: the log's signature, then
k valid cosignatures of witnesses it has pinned (by name and key), never the node's word.

:func:`verify_witnessed_entry` is what a client checks before it shows a share when it
requires witnessing: the node's answer (``GET /api/v1/federation/witnessed/{share}``)
carries its log's checkpoint with the cosignature lines and the inclusion proof of the
share's entry; the client recomputes the entry's leaf from the envelope it holds.

:func:`verify_signed_before` is what it checks before it takes a share signed by a key
revoked from index ``after`` of the signer's home log: the same proof, of the share's
entry in the home's own log (``origin_proof``), and only then the index against
``after``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vigil.crypto.encoding import b64u_decode
from vigil.errors import CryptoError, VigilError
from vigil.log.checkpoint import DEFAULT_AUTHORITY, Checkpoint, log_origin
from vigil.log.merkle import leaf_hash, verify_inclusion
from vigil.log.note import check_signatures, parse_note
from vigil.protocol.cosignature import cosigners, node_of_origin

MAX_K = 3
# the verdict every member surface adds to "verified" for a share signed by a key
# revoked after it (client, CLI, console, gateway)
SIGNED_BEFORE_REVOCATION = "signed before revocation"

__all__ = ["SIGNED_BEFORE_REVOCATION", "Witnessed", "quorum", "verify_signed_before",
           "verify_witnessed", "verify_witnessed_entry", "witness_name"]


def witness_name(node_id: str, authority: str = DEFAULT_AUTHORITY) -> str:
    """The cosigner name of a node's witness (its key is the node key)."""
    return f"{authority}/witness/{node_id}"


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


@dataclass(frozen=True, slots=True)
class Witnessed:
    """A log entry proven witnessed: its index, the checkpoint that includes it (the
    signed note, cosignature lines included) and the witnesses whose cosignatures on it
    verify, each with its timestamp."""

    index: int
    checkpoint: Checkpoint
    note: str
    witnesses: dict[str, int]


def verify_witnessed_entry(answer: Mapping[str, Any], entry: bytes,
                           log_key: tuple[str, bytes], witnesses: Mapping[str, bytes],
                           k: int, *, origin: str) -> Witnessed:
    """Check a node's proof that the log entry ``entry`` (its exact leaf bytes, rebuilt
    by the caller from what it holds) is under a checkpoint of ``origin`` that the log
    key signed and at least ``k`` distinct pinned witnesses of other nodes cosigned.

    ``answer`` holds ``checkpoint`` (the note with its cosignature lines), ``index`` and
    ``proof`` (base64url hashes). Refusals, each a ``CryptoError``:

    - ``client.not_witnessed``: the node says the entry is not witnessed yet, or its
      checkpoint does not reach the entry;
    - ``client.bad_witness_proof``: the answer is malformed;
    - ``log.unsigned`` / ``log.bad_signature``: the checkpoint is not signed by the
      log's key;
    - ``witness.quorum``: a checkpoint of another log, or fewer than ``k`` valid
      cosignatures of pinned witnesses (a forged or missing line, an unknown key, the
      log's own node, one witness twice);
    - ``log.bad_inclusion``: the proof does not lead from the entry's leaf to the
      cosigned root.
    """
    if k < 1:
        raise CryptoError("witnessing needs at least one witness", code="witness.quorum")
    note = answer.get("checkpoint")
    if not answer.get("witnessed") or not note:
        raise CryptoError("the node has no witnessed checkpoint including the entry yet",
                          code="client.not_witnessed")
    try:
        index = answer["index"]
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise ValueError(f"bad index {index!r}")
        proof = [b64u_decode(str(h)) for h in answer["proof"]]
        text = str(note)
    except (KeyError, TypeError, ValueError) as e:
        raise CryptoError(f"malformed witnessing proof: {e}",
                          code="client.bad_witness_proof") from None
    try:
        cp, found = verify_witnessed(text, log_key, witnesses, k, origin=origin)
    except CryptoError:
        raise
    except VigilError as e:  # a note or checkpoint that does not parse
        raise CryptoError(f"malformed witnessed checkpoint: {e.message}",
                          code="client.bad_witness_proof") from None
    if index >= cp.size:
        raise CryptoError(f"the cosigned checkpoint ({cp.size} entries) does not reach "
                          f"entry {index}", code="client.not_witnessed")
    verify_inclusion(leaf_hash(entry), index, cp.size, proof, cp.root)
    return Witnessed(index, cp, text, found)


def verify_signed_before(answer: Mapping[str, Any], entry: bytes, home: str,
                         home_key: bytes, witnesses: Mapping[str, bytes], k: int,
                         after: int, *, authority: str = DEFAULT_AUTHORITY) -> Witnessed:
    """Prove that the share whose log entry is ``entry`` (its leaf bytes, rebuilt by the
    caller from the envelope it holds) was logged by its signer's home node ``home``
    below ``after``, the point from which the home revoked the signing key.

    ``after`` counts entries of ``home``'s main log, so only a proof in that log can
    place the share before it: ``answer["origin_proof"]`` must be of ``home``'s log
    (``keys.other_log`` otherwise: a share logged elsewhere, e.g. at the member's home
    before it moved, has no place in that numbering), its checkpoint signed by
    ``home_key`` and cosigned by ``k`` pinned witnesses of other nodes, and the entry at
    its ``index`` (:func:`verify_witnessed_entry`, whose codes it raises). No proof yet
    is ``keys.order_unproven`` (ask again later); a proven index at or past ``after`` is
    ``keys.revoked``. The serving node's ``origin_index`` plays no part."""
    part = answer.get("origin_proof")
    if not isinstance(part, Mapping):
        raise CryptoError("the node gave no proof of the share's place in its origin's log",
                          code="keys.order_unproven")
    origin = log_origin(home, authority)
    if part.get("origin") != origin:
        raise CryptoError(f"the share is proven in {part.get('origin')!r}, not in "
                          f"{origin}, whose log the revocation point counts",
                          code="keys.other_log")
    try:
        got = verify_witnessed_entry(part, entry, (origin, home_key), witnesses, k,
                                     origin=origin)
    except CryptoError as e:
        if e.code != "client.not_witnessed":
            raise
        raise CryptoError(f"the share's place in {origin} is not proven yet: {e.message}",
                          code="keys.order_unproven") from None
    if got.index >= after:
        raise CryptoError(f"the share is entry {got.index} of {origin}, at or past the "
                          f"revocation point {after}", code="keys.revoked")
    return got
