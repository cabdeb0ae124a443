"""What a batch's share items are alone, made before the batch's transaction, outside
the write lock: the envelope parsed, its signature checked under the key the directory
names, its log proof checked against the origin's signed checkpoint
(:func:`prepare`). The checks in the transaction (``vigil.federation.kinds``) run in
their order and take each outcome from here: a step made already gives it again (the
signature only for the same key)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u_decode
from vigil.errors import CryptoError, InputError, VigilError
from vigil.federation.peers import Peer
from vigil.log.checkpoint import Checkpoint, verify_checkpoint
from vigil.log.entries import entry_bytes, share_entry
from vigil.log.merkle import leaf_hash, verify_inclusion
from vigil.model import Envelope, Member, Provenance
from vigil.node.exchange import Exchange
from vigil.protocol.envelope import envelope_from_json, verify_envelope


@dataclass
class Prepared:
    """What a share item's checks make of the item alone: the parsed envelope (or why
    it does not parse), its log entry and bytes, the outcome of its log proof and of
    its signature under one key. Made once, used by the checks in the transaction."""

    body: Mapping[str, Any]
    env: Envelope | None = None
    malformed: InputError | None = None
    entry: dict[str, Any] | None = None
    data: bytes | None = None
    proof: int | VigilError | None = None
    signed: tuple[bytes, VigilError | None] | None = None
    jcs: bytes | CryptoError | None = None

    def envelope(self) -> Envelope:
        if self.env is None:
            if self.malformed is None:
                try:  # the body is this batch's own, parsed for it: kept, not copied
                    self.env = envelope_from_json(self.body["envelope"], owned=True)
                except InputError as e:
                    self.malformed = e
            if self.malformed is not None:
                raise InputError(f"malformed envelope: {self.malformed.message}",
                                 code="fed.bad_item") from None
            assert self.env is not None
        return self.env

    def header_jcs(self) -> bytes:
        """JCS of the envelope's header, made once: the signature covers it and the log
        entry holds its digest."""
        if self.jcs is None:
            try:
                self.jcs = canonical(self.envelope().header)
            except CryptoError as e:
                self.jcs = e
        if isinstance(self.jcs, CryptoError):
            raise self.jcs
        return self.jcs

    def entry_data(self) -> tuple[dict[str, Any], bytes]:
        if self.entry is None or self.data is None:
            self.entry = share_entry(self.envelope(), self.header_jcs())
            self.data = entry_bytes(self.entry)  # hashed for the proof, stored by the write
        return self.entry, self.data

    def verify(self, signer: bytes) -> None:
        """The envelope's signature (and digests) under ``signer``."""
        if self.signed is None or self.signed[0] != signer:
            fault: VigilError | None = None
            try:  # parsed: its header's form is checked
                verify_envelope(self.envelope(), signer, checked=True,
                                header_jcs=self.header_jcs())
            except VigilError as e:
                fault = e
            self.signed = (signer, fault)
        if self.signed[1] is not None:
            raise CryptoError(f"the originator's signature does not hold: "
                              f"{self.signed[1].message}",
                              code="fed.bad_originator_signature") from None

    def prove(self, peer: Peer, checkpoints: dict[str, Checkpoint]) -> int:
        """The entry's index in the origin's log (``check_log``)."""
        if self.proof is None:
            entry, data = self.entry_data()
            try:
                self.proof = prove(peer, checkpoints, entry, self.body["log"], data)
            except VigilError as e:
                self.proof = e
        if isinstance(self.proof, VigilError):
            raise self.proof
        return self.proof



def prove(peer: Peer, checkpoints: dict[str, Checkpoint], entry: Mapping[str, Any],
          ref: Mapping[str, Any], data: bytes | None = None) -> int:
    """``check_log`` with the checkpoints verified so far in this batch."""
    try:
        note = str(ref["checkpoint"])
        cp = checkpoints.get(note)
        if cp is None:  # the same note verifies the same way: once per batch
            cp = verify_checkpoint(note, peer.log_origin, peer.key, origin=peer.log_origin)
            checkpoints[note] = cp
        index, size = int(ref["index"]), int(ref["size"])
        proof = [_proof_hash(h) for h in ref["proof"]]
        if cp.size != size or cp.root != b64u_decode(str(ref["root"])):
            raise CryptoError("the proof is not of the signed checkpoint",
                              code="fed.bad_log_proof")
        leaf = leaf_hash(entry_bytes(entry) if data is None else data)
        verify_inclusion(leaf, index, size, proof, cp.root)
    except VigilError as e:
        raise CryptoError(f"the log proof does not verify: {e.message}",
                          code="fed.bad_log_proof") from None
    return index


def _proof_hash(text: Any) -> bytes:
    """A proof hash (32 bytes, base64url). Decoded without the canonical-form checks of
    ``b64u_decode``: whatever bytes come out must still hash up to the signed root, so
    a second spelling of a hash proves nothing new, and ~20 of these come per item."""
    if not isinstance(text, str) or len(text) != 43:
        raise CryptoError("a proof hash is 32 bytes in base64url", code="fed.bad_log_proof")
    try:
        return base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        raise CryptoError("a proof hash is 32 bytes in base64url",
                          code="fed.bad_log_proof") from None



SPLIT = 64  # share items from which a batch's checks are made on two threads
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _second_thread() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fed-check")
        return _pool


def prepare(ex: Exchange, peer: Peer, items: Sequence[tuple[str, Any]],
            checkpoints: dict[str, Checkpoint]) -> dict[int, Prepared]:
    """Before the batch's transaction, outside the write lock: for each share item
    ``(kind, body)``, what its checks make of it alone, its signature checked under the
    key the directory names now (the transaction checks the key again, and checks the
    signature again only under another key). An item this cannot make sense of is left
    to the transaction's checks, which refuse it as they would.

    From ``SPLIT`` share items on, the second half is checked on a second thread while
    this one checks the first (Ed25519 runs without the GIL, so the signatures of the
    two halves are checked at once on two cores); the first item is checked alone
    before, so the checkpoint the batch rests on is verified once."""
    shares = [body for kind, body in items
              if kind == "share" and isinstance(body, dict) and not body.get("gone")]
    members = ex.directory().members
    if len(shares) < SPLIT:
        return _prepare(peer, members, shares, checkpoints)
    out = _prepare(peer, members, shares[:1], checkpoints)
    half = (len(shares) + 1) // 2
    other = _second_thread().submit(_prepare, peer, members, shares[half:], checkpoints)
    out.update(_prepare(peer, members, shares[1:half], checkpoints))
    out.update(other.result())
    return out


def _prepare(peer: Peer, members: Mapping[str, Member], shares: Sequence[dict[str, Any]],
             checkpoints: dict[str, Checkpoint]) -> dict[int, Prepared]:
    out: dict[int, Prepared] = {}
    for body in shares:
        pre = Prepared(body)
        try:
            env = pre.envelope()
        except VigilError:
            out[id(body)] = pre  # kept: the transaction's checks raise it
            continue
        except Exception:
            continue  # the transaction's checks say what is wrong
        try:
            header = env.header
            if header.get("provenance") == Provenance.ATTESTED.value:
                signer: bytes | None = peer.key if header["key"] == peer.pin else None
            else:
                m = members.get(env.originator)
                signer = m.sign_key if m is not None and \
                    header["key"] == m.sign_key_id else None
            if signer is not None:
                with contextlib.suppress(VigilError):  # kept, raised in its turn
                    pre.verify(signer)
            with contextlib.suppress(VigilError):
                pre.prove(peer, checkpoints)
        except Exception:
            continue
        out[id(body)] = pre
    return out
