"""The witness side of C2SP tlog-witness: ``add-checkpoint`` exactly as specified.

For each known log (origin -> the log's note key) the witness keeps the latest
checkpoint it cosigned (``witness_heads``) and every verified root it ever saw, its own
and those peers gossip (``witness_roots``). Checking the old size and storing the new
checkpoint happen in one write transaction, so two concurrent requests cannot roll the
log back (the race the spec spells out).

Answers: 400 malformed or old size above the checkpoint size; 404 unknown origin; 403
no signature of the log's key verifies; 409 + held size (``text/x.tlog.size``) when the
old size is not the held one; 409 on equal sizes with different roots; 422 when the
consistency proof fails; 200 with the cosignature lines. A known, validly signed
checkpoint that fails (two roots for one size, or no consistency with what is held) is
kept with the held note as evidence and raises a fork alarm on its node; a log under
an open alarm is not cosigned again until an operator decides.

Gossip (:meth:`Witness.observe`): checkpoints peers hold of a log, handed over in
heartbeats. Two roots for one size among everything seen is a fork, with the two
notes as evidence, whoever showed them to whom.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vigil import clock
from vigil.crypto.keys import SignPrivate
from vigil.errors import CryptoError, InputError, VigilError
from vigil.log.checkpoint import Checkpoint, check_fork
from vigil.log.merkle import verify_consistency
from vigil.log.note import check_signatures, parse_note
from vigil.lru import Lru
from vigil.protocol.cosignature import cosign, cosignature_vkey, node_of_origin
from vigil.storage import trust as q
from vigil.storage.base import Sql, Store
from vigil.witness.alarms import Alarms
from vigil.witness.wire import (
    NOTE_CONTENT_TYPE,
    SIZE_CONTENT_TYPE,
    format_cosignatures,
    format_size,
    parse_request,
)

__all__ = ["Answer", "KnownLogs", "Witness"]

# origin -> (key name, Ed25519 public key) of the log, or None when unknown
KnownLogs = Callable[[str], tuple[str, bytes] | None]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def _text(status: int, why: str) -> Answer:
    return Answer(status, NOTE_CONTENT_TYPE, (why + "\n").encode())


class Witness:
    def __init__(self, store: Store, name: str, key: SignPrivate, known: KnownLogs,
                 alarms: Alarms, *, now: Callable[[], float] = time.time) -> None:
        self.store = store
        self.name = name
        self._key = key
        self.public_raw = key.public_key().public_bytes_raw()
        self.known = known
        self.alarms = alarms
        self._now = now
        self._seen: Lru[bytes, bool] = Lru(4096)  # notes observed already

    @property
    def vkey(self) -> str:
        return cosignature_vkey(self.name, self.public_raw)

    # -- add-checkpoint ---------------------------------------------------------------
    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            req = parse_request(body)
            text, sigs = parse_note(req.note)
            cp = Checkpoint.from_body(text)
        except InputError as e:
            # a checkpoint of a non-vigil origin does not parse as one: unknown to us
            first = body.decode("utf-8", "replace").partition("\n\n")[2].split("\n", 1)[0]
            if e.code == "log.bad_checkpoint" and first and self.known(first) is None:
                return _text(404, "unknown log")
            return _text(400, e.message)
        log_key = self.known(cp.origin)
        if log_key is None:
            return _text(404, "unknown log")
        try:
            check_signatures(text, sigs, log_key[0], log_key[1])
        except CryptoError:
            return _text(403, "no signature of the log's key verifies")
        if req.old > cp.size:
            return _text(400, "the old size is larger than the checkpoint size")
        raised: list[str] = []

        def run(sql: Sql) -> Answer:
            held = q.witness_head(sql, cp.origin)
            held_size = held[0] if held else 0
            if self.alarms.refuses(node_of_origin(cp.origin)):
                # evidence is kept once; nothing of this log is cosigned until a decision
                return _text(409, "this log is under a fork alarm")
            if req.old != held_size:
                return Answer(409, SIZE_CONTENT_TYPE, format_size(held_size))
            conflict = self._seen_conflict(sql, cp, req.note)
            if conflict is not None:
                self._evidence(sql, cp, "fork", [conflict, req.note],
                               "two roots for one size", raised)
                return _text(409, "another root of this size was seen")
            if held is not None and held_size == cp.size:
                if held[1] != cp.root:
                    self._evidence(sql, cp, "fork", [held[2], req.note],
                                   "two roots for one size", raised)
                    return _text(409, "a different root for the held size")
            elif held is not None:
                try:
                    verify_consistency(held_size, cp.size, req.proof, held[1], cp.root)
                except CryptoError as e:
                    self._evidence(sql, cp, "inconsistent", [held[2], req.note],
                                   f"{e.message}; proof "
                                   + ",".join(p.hex() for p in req.proof), raised)
                    return _text(422, "the consistency proof does not verify")
            at = clock.now()
            q.set_witness_head(sql, cp.origin, cp.size, cp.root, req.note, at,
                               None if held is None else held_size)
            self._remember(sql, cp, req.note, "submitted")
            sig = cosign(text, self.name, self._key, int(self._now()))
            return Answer(200, NOTE_CONTENT_TYPE, format_cosignatures([sig]))

        answer = self.store.write(run)
        for node in raised:
            self.alarms.announce(node)
        return answer

    # -- gossip -----------------------------------------------------------------------
    def observe(self, note: str, source: str) -> str | None:
        """Take a checkpoint a peer holds of a known log. Returns the node now under a
        fork alarm if this note contradicts one seen before, else ``None``. Notes of
        unknown logs or without a valid log signature are ignored (they prove nothing).
        A note taken before is skipped at once (heartbeats repeat what peers hold)."""
        seen_key = hashlib.sha256(note.encode("utf-8", "replace")).digest()
        if self._seen.get(seen_key) is not None:
            return None
        try:
            text, sigs = parse_note(note)
            cp = Checkpoint.from_body(text)
            log_key = self.known(cp.origin)
            if log_key is None:
                return None
            check_signatures(text, sigs, log_key[0], log_key[1])
        except VigilError:
            return None
        self._seen.put(seen_key, True)
        if self.alarms.refuses(node_of_origin(cp.origin)):
            return None  # its evidence is kept already
        raised: list[str] = []

        def run(sql: Sql) -> None:
            conflict = self._seen_conflict(sql, cp, note)
            if conflict is not None:
                self._evidence(sql, cp, "fork", [conflict, note],
                               f"two roots for one size (one from {source})", raised)
            else:
                self._remember(sql, cp, note, source)
        self.store.write(run)
        for node in raised:
            self.alarms.announce(node)
        return raised[0] if raised else None

    def take_evidence(self, notes: list[str], source: str) -> str | None:
        """Take fork evidence a peer sends (two notes): re-checked here, never trusted."""
        if len(notes) != 2:
            return None
        seen_key = hashlib.sha256("\n\n".join(sorted(notes)).encode("utf-8", "replace")
                                  ).digest()
        if self._seen.get(seen_key) is not None:
            return None
        try:
            cp = Checkpoint.from_body(parse_note(notes[0])[0])
            log_key = self.known(cp.origin)
            if log_key is None:
                return None
            ev = check_fork(notes[0], notes[1], log_key[0], log_key[1])
        except VigilError:
            return None
        if ev is None:
            return None
        raised: list[str] = []
        if not self.alarms.refuses(node_of_origin(cp.origin)):  # else kept already
            self.store.write(lambda sql: self._evidence(
                sql, cp, "fork", notes, f"two roots for one size (sent by {source})", raised))
        self._seen.put(seen_key, True)
        for node in raised:
            self.alarms.announce(node)
        return node_of_origin(cp.origin)

    def witnessed_by(self, origin: str, index: int) -> list[str]:
        """The witnesses known to hold a checkpoint of ``origin`` that includes leaf
        ``index``: this one (what it cosigned) and the peers whose heartbeats said so."""
        rows = self.store.read(lambda sql: q.root_sources(sql, origin, index))
        return sorted({self.name if r == "submitted" else r for r in rows})

    def prune(self, keep: int = 10_000) -> int:
        """Keep the ``keep`` largest sizes seen of each log (a second root is looked for
        among them; older sizes are behind every checkpoint a peer still gossips)."""
        return self.store.write(lambda sql: q.prune_roots(sql, keep))

    def holds(self) -> dict[str, str]:
        """origin -> the latest checkpoint note this witness cosigned (for heartbeats)."""
        return self.store.read(q.witness_heads)

    # -- internals --------------------------------------------------------------------
    @staticmethod
    def _seen_conflict(sql: Sql, cp: Checkpoint, note: str) -> str | None:
        return q.other_root(sql, cp.origin, cp.size, cp.root)

    @staticmethod
    def _remember(sql: Sql, cp: Checkpoint, note: str, source: str) -> None:
        q.add_root(sql, cp.origin, cp.size, cp.root, note, source, clock.now())

    def _evidence(self, sql: Sql, cp: Checkpoint, kind: str, notes: list[str], detail: str,
                  raised: list[str]) -> None:
        _, new = self.alarms.record(sql, cp.origin, kind, cp.size, notes, detail, self.name)
        if new:
            raised.append(node_of_origin(cp.origin))


def static_logs(logs: Mapping[str, bytes]) -> KnownLogs:
    """A :data:`KnownLogs` of fixed ``{origin: public key}`` (key name = origin)."""
    def known(origin: str) -> tuple[str, bytes] | None:
        pub = logs.get(origin)
        return None if pub is None else (origin, pub)
    return known
