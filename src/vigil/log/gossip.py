"""Gossip: checkpoints members hand back to the node, and the forks found among them.

A member hands in every checkpoint the node gave it. Two validly signed checkpoints of
one size with different roots prove the node showed two histories; the node keeps
every checkpoint it receives and reports such pairs to every member, together with any
handed-in checkpoint that disagrees with the node's own tree. A node that drops gossip
cannot hide a fork from members who compare checkpoints among themselves
(``vigil log compare``): the proof is the two signed notes, whoever holds them.
"""

from __future__ import annotations

from typing import Any

from vigil import clock
from vigil.crypto.encoding import b64u
from vigil.log.checkpoint import check_fork, verify_checkpoint
from vigil.log.tree import StoredLog
from vigil.storage.gossip import checkpoints, keep_checkpoint


class Gossip:
    def __init__(self, log: StoredLog) -> None:
        self.log = log

    def _verify(self, note: str) -> tuple[int, bytes]:
        cp = verify_checkpoint(note, self.log.key_name, self.log.public_raw,
                               origin=self.log.origin)
        return cp.size, cp.root

    def receive(self, note: str, member: str) -> dict[str, Any]:
        """Keep a handed-in checkpoint (after checking the node's signature on it)."""
        size, root = self._verify(note)
        at = clock.now()
        self.log.store.write(lambda sql: keep_checkpoint(sql, size, root, note, member, at))
        forks = [f for f in self.report()["forks"] if f["size"] == size]
        return {"accepted": True, "size": size, "root": b64u(root), "forks": forks}

    def report(self) -> dict[str, Any]:
        rows = self.log.store.read(checkpoints)
        current = self.log.size()
        forks: list[dict[str, Any]] = []
        by_size: dict[int, list[tuple[bytes, str]]] = {}
        for size, root, note in rows:
            by_size.setdefault(size, []).append((root, note))
        for size, seen in sorted(by_size.items()):
            notes = [n for _, n in seen]
            if 0 < size <= current:
                own_root = self.log.root(size)
                if any(r != own_root for r, _ in seen):
                    notes.insert(0, self.log.note(size, own_root))
            first = notes[0]
            for other in notes[1:]:
                ev = check_fork(first, other, self.log.key_name, self.log.public_raw)
                if ev is not None:
                    forks.append(ev.to_dict())
        return {"checkpoints": [{"size": s, "root": b64u(r), "checkpoint": n}
                                for s, r, n in rows],
                "forks": forks}
