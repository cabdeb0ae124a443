"""A member's own client watching its directory entries (keytrans "owner monitoring").

The client remembers the digest of every entry body it signed (:func:`body_digest`).
Each poll it fetches the home node's directory log from where it stopped, with the
newest checkpoint carrying ``k`` cosignatures, and:

1. checks the checkpoint (home node's signature, ``k`` cosignatures of known witnesses:
   the tree it is shown is the one the witnesses see, so the one everyone is shown);
2. rebuilds the tree from every leaf it has and the new ones, and checks the root (so no
   entry can be hidden from it, and history cannot change under it);
3. raises an alarm at once on any entry naming the member whose body it never signed:
   a key the home node added, a revocation it did not ask for, a move it did not make.

The whole log is walked, not a per-member query, so a node cannot show the member a
view without the rogue entry while showing everyone else one with it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vigil.crypto.canonical import canonical
from vigil.crypto.encoding import b64u_decode
from vigil.directory.entries import SignedEntry, directory_origin
from vigil.errors import CryptoError, InputError
from vigil.log.merkle import MemoryTree, leaf_hash
from vigil.protocol.witnessing import verify_witnessed

__all__ = ["MonitorAlarm", "OwnerMonitor", "body_digest"]

# start index -> {"checkpoint": note with cosignatures, "entries": [b64u leaf data, …]}
Fetch = Callable[[int], Mapping[str, Any]]


def body_digest(entry: Mapping[str, Any]) -> str:
    """What the member remembers of an entry it signed (the node's countersignature
    comes after, so it is not part of it)."""
    return "sha256:" + hashlib.sha256(canonical(dict(entry))).hexdigest()


@dataclass(frozen=True, slots=True)
class MonitorAlarm:
    kind: str          # "rogue_entry" | "fork"
    index: int
    detail: str
    entry: dict[str, Any] | None = None


@dataclass
class OwnerMonitor:
    member: str
    home: str
    home_key: bytes
    witnesses: Mapping[str, bytes]
    k: int
    made: set[str] = field(default_factory=set)
    tree: MemoryTree = field(default_factory=MemoryTree)
    alarms: list[MonitorAlarm] = field(default_factory=list)
    listeners: list[Callable[[MonitorAlarm], None]] = field(default_factory=list)

    def signed(self, entry: Mapping[str, Any]) -> None:
        """Remember an entry this member signed (call before handing it to the node)."""
        self.made.add(body_digest(entry))

    def _raise(self, alarm: MonitorAlarm) -> None:
        self.alarms.append(alarm)
        for listener in list(self.listeners):
            listener(alarm)

    def poll(self, fetch: Fetch) -> list[MonitorAlarm]:
        """One look at the home node's directory log; the alarms it raised."""
        got = fetch(self.tree.size)
        origin = directory_origin(self.home)
        new: list[MonitorAlarm] = []
        try:
            cp, _ = verify_witnessed(str(got["checkpoint"]), (origin, self.home_key),
                                     self.witnesses, self.k, origin=origin)
        except (CryptoError, InputError):
            return new  # not (yet) witnessed: nothing shown can be trusted; ask again
        leaves = [b64u_decode(x) for x in got["entries"]]
        start = self.tree.size
        if start + len(leaves) != cp.size:
            if cp.size < start:
                alarm = MonitorAlarm("fork", cp.size, "the witnessed log shrank")
                self._raise(alarm)
                return [alarm]
            return new
        candidate = MemoryTree([self.tree.get(0, i) for i in range(start)])
        for data in leaves:
            candidate.append(leaf_hash(data))
        if candidate.root(cp.size) != cp.root:
            alarm = MonitorAlarm("fork", cp.size, "the entries do not hash to the witnessed "
                                                  "checkpoint")
            self._raise(alarm)
            return [alarm]
        self.tree = candidate
        for offset, data in enumerate(leaves):
            try:
                signed = SignedEntry.from_json(json.loads(data))
            except (ValueError, CryptoError):
                continue
            if signed.member != self.member:
                continue
            if body_digest(signed.entry) not in self.made:
                alarm = MonitorAlarm("rogue_entry", start + offset,
                                     f"a {signed.kind} entry this member did not make",
                                     signed.to_json())
                self._raise(alarm)
                new.append(alarm)
        return new
