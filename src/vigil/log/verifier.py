"""A member's side of the log: checkpoints it accepted, and what it refuses.

The verifier keeps the latest checkpoint it accepted (in a small JSON file when given a
path, so it survives restarts) and every tree size it has checked. A new checkpoint is
accepted only with a consistency proof to the one it holds, in whichever direction; a
checkpoint of a size already checked must have the same root. A rollback (the node's
*latest* checkpoint is older than one accepted) or a fork (two roots for one size, or a
failed consistency proof) is refused with ``CryptoError`` and kept as evidence: both
signed checkpoints, re-checkable by anyone with the node's log key.

The first checkpoint is trusted on first use, and the verifier says so
(``first_use``), since nothing earlier exists to check it against.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from vigil import clock
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.secretfile import write_secret_file
from vigil.errors import CryptoError, InputError
from vigil.log.checkpoint import Checkpoint, verify_checkpoint
from vigil.log.entries import entry_bytes, share_entry
from vigil.log.merkle import leaf_hash, verify_consistency, verify_inclusion
from vigil.model import Envelope

Fetch = Callable[[int, int], Sequence[bytes]]
"""Ask the node for the consistency proof from one size to a larger one."""


def _hashes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise InputError(f"{what} must be a list", code="log.bad_proof")
    try:
        return [b64u_decode(v) for v in values]
    except (ValueError, TypeError) as exc:
        raise InputError(f"{what} holds a bad hash", code="log.bad_proof") from exc


class LogVerifier:
    def __init__(self, origin: str, key_name: str, public_raw: bytes, fetch: Fetch,
                 state_path: Path | None = None) -> None:
        self.origin = origin
        self.key_name = key_name
        self.public_raw = public_raw
        self.fetch = fetch
        self.path = state_path
        self._lock = threading.RLock()
        self.checked: dict[int, bytes] = {}
        self.latest: tuple[int, bytes, str] | None = None
        self.evidence: list[dict[str, Any]] = []
        self.marks: dict[str, int] = {}  # how far a member's watches read the log
        self.first_use = False
        self._load()

    # -- state ---------------------------------------------------------------------
    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        doc = orjson.loads(self.path.read_bytes()).get(self.origin)
        if not doc:
            return
        if doc.get("checkpoint"):
            cp = verify_checkpoint(doc["checkpoint"], self.key_name, self.public_raw,
                                   origin=self.origin)
            self.latest = (cp.size, cp.root, doc["checkpoint"])
            self.checked[cp.size] = cp.root
        self.evidence = list(doc.get("evidence", []))
        self.marks = {str(k): int(v) for k, v in (doc.get("marks") or {}).items()}

    def _save(self) -> None:
        if self.path is None:
            return
        doc: dict[str, Any] = {}
        if self.path.exists():
            doc = orjson.loads(self.path.read_bytes())
        doc[self.origin] = {"checkpoint": self.latest[2] if self.latest else None,
                            "size": self.latest[0] if self.latest else 0,
                            "evidence": self.evidence, "marks": self.marks}
        write_secret_file(self.path, orjson.dumps(doc, option=orjson.OPT_INDENT_2),
                          overwrite=True)

    def _refuse(self, kind: str, why: str, notes: Sequence[str]) -> CryptoError:
        self.evidence.append({"kind": kind, "why": why, "checkpoints": list(notes),
                              "at": clock.now()})
        self._save()
        return CryptoError(f"log {kind}: {why}", code=f"log.{kind}")

    def mark(self, name: str, index: int) -> None:
        """Remember how far a watch of the log has read (kept in the state file)."""
        with self._lock:
            self.marks[name] = index
            self._save()

    # -- accepting checkpoints ----------------------------------------------------------
    def accept(self, note: str, *, latest: bool = False) -> Checkpoint:
        """Verify a signed checkpoint against everything accepted so far.

        ``latest``: the node presents it as its newest (``GET /log/checkpoint``), so a
        size below the one accepted is a rollback. Checkpoints that come with a
        delivered share may be older than the latest one; they must be a prefix of it.
        """
        cp = verify_checkpoint(note, self.key_name, self.public_raw, origin=self.origin)
        with self._lock:
            known = self.checked.get(cp.size)
            if known is not None:
                if known != cp.root:
                    held = self.latest[2] if self.latest and self.latest[0] == cp.size \
                        else self._note_for(cp.size)
                    raise self._refuse("fork", f"two roots for size {cp.size}", [held, note])
                if not (latest and self.latest and cp.size < self.latest[0]):
                    return cp
            if self.latest is None:
                self.first_use = True
                self.latest = (cp.size, cp.root, note)
                self.checked[cp.size] = cp.root
                self._save()
                return cp
            size0, root0, note0 = self.latest
            if latest and cp.size < size0:
                raise self._refuse("rollback", f"latest size {cp.size} is below the accepted "
                                   f"{size0}", [note0, note])
            if cp.size == 0 or size0 == 0:
                pass  # nothing to prove against the empty tree
            elif cp.size > size0:
                self._consistent(size0, cp.size, root0, cp.root, note0, note)
            elif cp.size < size0:
                self._consistent(cp.size, size0, cp.root, root0, note, note0)
            self.checked[cp.size] = cp.root
            if cp.size > size0:
                self.latest = (cp.size, cp.root, note)
                self._save()
            return cp

    def _note_for(self, size: int) -> str:
        return self.latest[2] if self.latest else f"(size {size})"

    def _consistent(self, small: int, big: int, r_small: bytes, r_big: bytes,
                    n_small: str, n_big: str) -> None:
        proof = list(self.fetch(small, big))
        try:
            verify_consistency(small, big, proof, r_small, r_big)
        except CryptoError:
            raise self._refuse("fork", f"size {big} does not extend size {small}",
                               [n_small, n_big]) from None

    # -- delivered shares -------------------------------------------------------------------
    def verify_share(self, env: Envelope, log: Mapping[str, Any] | None) -> int:
        """Check that a delivered share is the entry the node logged; its log index."""
        if not log:
            raise CryptoError("the share came without its log proof", code="log.missing_proof")
        return self.verify_entry(share_entry(env), log)

    def verify_entry(self, entry: Mapping[str, Any], log: Mapping[str, Any] | None) -> int:
        """Check that ``entry`` is in the log: ``log`` holds its ``index`` and inclusion
        ``proof`` in the tree of ``size`` entries whose signed ``checkpoint`` it carries;
        that checkpoint must be consistent with every one accepted. Its index."""
        if not log:
            raise CryptoError("no log proof came with it", code="log.missing_proof")
        try:
            index, size, note = int(log["index"]), int(log["size"]), str(log["checkpoint"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError("malformed log proof", code="log.bad_proof") from exc
        cp = self.accept(note)
        if cp.size != size:
            raise CryptoError("the proof's size is not its checkpoint's",
                              code="log.bad_inclusion")
        leaf = leaf_hash(entry_bytes(entry))
        verify_inclusion(leaf, index, cp.size, _hashes(log.get("proof"), "proof"), cp.root)
        return index

    def state(self) -> dict[str, Any]:
        return {"origin": self.origin,
                "size": self.latest[0] if self.latest else 0,
                "root": b64u(self.latest[1]) if self.latest else None,
                "first_use": self.first_use,
                "evidence": list(self.evidence)}
