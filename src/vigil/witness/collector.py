"""The log side of witnessing: submit checkpoints to every peer witness, keep what
comes back.

For each (witness, origin) the node remembers the size the witness holds
(``witness_held``) and sends ``old <that size>`` with the consistency proof from it; a
409 tells it the size the witness really holds, and it tries again once from there.
Valid cosignatures (checked against the witness's vkey) are kept per checkpoint
(``cosignatures``); :meth:`Collector.witnessed_size` is the size below which every leaf
has ``k`` cosigners, and :meth:`Collector.cosigned` the newest checkpoint carrying ``k``
cosignatures on itself (what lookups hand out).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from vigil import clock
from vigil.errors import VigilError
from vigil.log.checkpoint import Checkpoint
from vigil.log.note import parse_note
from vigil.protocol.cosignature import cosigners
from vigil.storage import trust as q
from vigil.storage.base import Sql, Store
from vigil.witness.wire import (
    SIZE_CONTENT_TYPE,
    format_request,
    parse_cosignatures,
    parse_size,
)

log = logging.getLogger("vigil.witness")

__all__ = ["Collector", "Submit", "WitnessPeer", "WitnessedLog"]

# body -> (status, content type, body); raises OSError / VigilError when unreachable
Submit = Callable[[bytes], tuple[int, str, bytes]]


class WitnessedLog(Protocol):
    """What the collector needs of a log: its origin, a signed checkpoint, and proofs."""

    origin: str

    def checkpoint(self, size: int | None = None) -> tuple[Checkpoint, str]: ...
    def consistency(self, size1: int, size2: int) -> list[bytes]: ...


@dataclass(frozen=True, slots=True)
class WitnessPeer:
    name: str
    public_raw: bytes
    submit: Submit


class Collector:
    def __init__(self, store: Store, logs: Sequence[WitnessedLog]) -> None:
        self.store = store
        self.logs = list(logs)

    # -- submitting -------------------------------------------------------------------
    def _held(self, witness: str, origin: str) -> int:
        return self.store.read(lambda sql: q.held_size(sql, witness, origin))

    def _set_held(self, sql: Sql, witness: str, origin: str, size: int) -> None:
        q.set_held_size(sql, witness, origin, size)

    def _note_held(self, witness: str, origin: str, size: int) -> None:
        def run(sql: Sql) -> None:
            self._set_held(sql, witness, origin, size)
        self.store.write(run)

    def submit(self, log_: WitnessedLog, peer: WitnessPeer) -> bool:
        """Submit ``log_``'s current checkpoint to ``peer``; True if it cosigned."""
        cp, note = log_.checkpoint()
        if cp.size == 0:
            return False
        old = self._held(peer.name, cp.origin)
        for _ in range(2):
            if old > cp.size:
                log.warning("witness %s holds %s at %d, beyond our %d", peer.name,
                            cp.origin, old, cp.size)
                return False
            if old == cp.size and self._has(cp, peer.name):
                return True
            proof = log_.consistency(old, cp.size) if 0 < old < cp.size else []
            try:
                status, ctype, body = peer.submit(format_request(old, proof, note))
            except (OSError, VigilError) as e:
                log.info("witness %s unreachable: %s", peer.name, e)
                return False
            if status == 409 and ctype.split(";")[0].strip() == SIZE_CONTENT_TYPE:
                try:
                    old = parse_size(body)
                except VigilError:
                    return False
                self._note_held(peer.name, cp.origin, old)
                continue
            if status != 200:
                # 404: the peer does not know this log (yet); anything else is worth a look
                say = log.info if status == 404 else log.warning
                say("witness %s answered %d for %s at %d", peer.name, status, cp.origin,
                    cp.size)
                return False
            return self._keep(cp, note, peer, body)
        return False

    def _has(self, cp: Checkpoint, witness: str) -> bool:
        return self.store.read(lambda sql: q.has_cosignature(sql, cp.origin, cp.size, witness))

    def _keep(self, cp: Checkpoint, note: str, peer: WitnessPeer, body: bytes) -> bool:
        text = parse_note(note)[0]
        try:
            sigs = parse_cosignatures(body, text)
        except VigilError:
            return False
        valid = cosigners((text, sigs), {peer.name: peer.public_raw})
        if peer.name not in valid:
            return False
        line = next(s.line() for s in sigs if s.name == peer.name)

        def run(sql: Sql) -> None:
            q.add_cosignature(sql, cp.origin, cp.size, cp.root, peer.name, line, clock.now())
            self._set_held(sql, peer.name, cp.origin, cp.size)
        self.store.write(run)
        return True

    def round(self, peers: Sequence[WitnessPeer]) -> dict[str, int]:
        """One cadence tick: every log to every peer; ``{origin: cosignatures won}``."""
        won: dict[str, int] = {}
        for log_ in self.logs:
            won[log_.origin] = sum(1 for p in peers if self.submit(log_, p))
        return won

    # -- reading ----------------------------------------------------------------------
    def witnessed_size(self, origin: str, k: int) -> int:
        """The largest s such that k witnesses each cosigned a checkpoint of size >= s:
        every leaf below s is witnessed (0 when k witnesses have not answered yet)."""
        rows = self.store.read(lambda sql: q.cosigned_max(sql, origin))
        if k <= 0:
            return self._own_size(origin)
        if len(rows) < k:
            return 0
        return int(rows[k - 1][1])

    def _own_size(self, origin: str) -> int:
        for log_ in self.logs:
            if log_.origin == origin:
                return log_.checkpoint()[0].size
        return 0

    def is_witnessed(self, origin: str, index: int, k: int) -> bool:
        return index < self.witnessed_size(origin, k)

    def cosigned(self, origin: str, k: int, by: str | None = None) -> str | None:
        """The newest checkpoint note of ``origin`` with at least ``k`` cosignatures on
        itself (``by``'s among them, if given): the log's note with the cosignature
        lines appended."""
        size = self.store.read(lambda sql: q.newest_quorum_size(sql, origin, k)
                               if by is None else
                               q.newest_quorum_size_with(sql, origin, k, by))
        if size is None:
            if k > 0 or by is not None:
                return None
            own = [lg for lg in self.logs if lg.origin == origin]
            return own[0].checkpoint()[1] if own else None
        return self.note_with_cosignatures(origin, size)

    def note_with_cosignatures(self, origin: str, size: int) -> str | None:
        own = [lg for lg in self.logs if lg.origin == origin]
        if not own:
            return None
        note = own[0].checkpoint(size)[1]
        lines = self.store.read(lambda sql: q.cosignature_lines(sql, origin, size))
        return note + "".join(lines)

    def cosigners_above(self, origin: str, index: int) -> list[str]:
        """The witnesses that cosigned a checkpoint of ``origin`` including leaf ``index``."""
        return self.store.read(lambda sql: q.cosigners_above(sql, origin, index))

    def prune(self, origin: str, k: int) -> None:
        """Forget cosignatures older than the newest k-cosigned checkpoint."""
        keep = self.store.read(lambda sql: q.newest_quorum_size(sql, origin, max(k, 1)))
        if keep is not None:
            self.store.write(lambda sql: q.prune_cosignatures(sql, origin, keep))


def peers_by_name(peers: Sequence[WitnessPeer]) -> Mapping[str, bytes]:
    return {p.name: p.public_raw for p in peers}
