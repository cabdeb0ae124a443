"""Evidence of log misbehaviour, and the fork alarms it raises.

Evidence is the signed notes themselves (two checkpoints of one size with different
roots; or a held checkpoint, a newer one and the consistency proof that failed to link
them), so anyone holding the log's key can check it again. A fork alarm names the node
whose log it is: while it is ``open`` this node takes no new items from that node
(:meth:`Alarms.refuses`), until an operator decides: ``resume`` (the evidence was
explained and the node is trusted again) or ``expel`` (kept refused; the roster
expulsion follows). Listeners (console banner, SSE, heartbeat) are told at once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vigil import clock
from vigil.errors import InputError, NotFound, PolicyDenied
from vigil.protocol.cosignature import node_of_origin
from vigil.storage import trust as q
from vigil.storage.base import Sql, Store

KINDS = frozenset({"fork", "inconsistent", "rollback"})
DECISIONS = frozenset({"resume", "expel"})

__all__ = ["Alarm", "Alarms", "node_of_origin"]


def _evidence(r: Any) -> dict[str, Any]:
    return {"seq": int(r[0]), "origin": r[1], "kind": r[2], "size": int(r[3]),
            "notes": json.loads(r[4]), "detail": r[5], "source": r[6], "at": r[7]}


@dataclass(frozen=True, slots=True)
class Alarm:
    node: str
    origin: str
    status: str
    raised: str
    evidence: dict[str, Any]
    decided_by: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "origin": self.origin, "status": self.status,
                "raised": self.raised, "evidence": self.evidence,
                "decided_by": self.decided_by, "reason": self.reason}


Listener = Callable[[Alarm], None]


class Alarms:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.listeners: list[Listener] = []
        self._refused: set[str] | None = None

    # -- writing (inside the caller's transaction) ------------------------------------
    def record(self, sql: Sql, origin: str, kind: str, size: int, notes: Sequence[str],
               detail: str, source: str) -> tuple[int, bool]:
        """Keep evidence and raise the alarm on its node; ``(evidence seq, newly raised)``.
        Call :meth:`announce` after the transaction commits."""
        if kind not in KINDS:
            raise InputError(f"unknown evidence kind {kind!r}", code="witness.bad_request")
        at = clock.now()
        seq = q.add_evidence(sql, origin, kind, size, json.dumps(list(notes)), detail,
                             source, at)
        node = node_of_origin(origin)
        got = q.alarm_status(sql, node)
        if got is not None and got != "resume":
            return seq, False
        q.raise_alarm(sql, node, origin, seq, at)  # a resumed node misbehaving: anew
        self._refused = None
        return seq, True

    def announce(self, node: str) -> None:
        self._refused = None
        alarm = self.get(node)
        if alarm is not None:
            for listener in list(self.listeners):
                listener(alarm)

    # -- reading ----------------------------------------------------------------------
    def _alarm(self, sql: Sql, row: Any) -> Alarm:
        evidence = _evidence(q.evidence(sql, seq=int(row[2]))[0])
        del evidence["seq"]
        return Alarm(row[0], row[1], row[4], row[3], evidence, row[5], row[7])

    def get(self, node: str) -> Alarm | None:
        def run(sql: Sql) -> Alarm | None:
            rows = q.alarms(sql, node)
            return self._alarm(sql, rows[0]) if rows else None
        return self.store.read(run)

    def all(self) -> list[Alarm]:
        def run(sql: Sql) -> list[Alarm]:
            return [self._alarm(sql, r) for r in q.alarms(sql)]
        return self.store.read(run)

    def evidence(self, origin: str | None = None) -> list[dict[str, Any]]:
        rows = self.store.read(lambda sql: q.evidence(sql, origin=origin))
        return [_evidence(r) for r in rows]

    def refused_nodes(self) -> set[str]:
        cached = self._refused
        if cached is None:
            cached = self._refused = self.store.read(q.refused_nodes)
        return cached

    def refuses(self, node: str) -> bool:
        return node in self.refused_nodes()

    def check_intake(self, node: str) -> None:
        """Raise ``fed.fork_alarm`` if items from ``node`` are refused."""
        if self.refuses(node):
            raise PolicyDenied(f"{node} is under a fork alarm; its items are refused until "
                               f"an operator decides", code="fed.fork_alarm")

    # -- the operator's decision ------------------------------------------------------
    def decide(self, node: str, decision: str, operator: str, reason: str) -> Alarm:
        if decision not in DECISIONS:
            raise InputError("decide with 'resume' or 'expel'", code="witness.bad_decision")

        def run(sql: Sql) -> None:
            if q.settle_alarm(sql, node, decision, operator, clock.now(), reason) == 0:
                raise NotFound(f"no fork alarm on {node}", code="witness.no_alarm")
        self.store.write(run)
        self._refused = None
        alarm = self.get(node)
        assert alarm is not None
        self.announce(node)
        return alarm
