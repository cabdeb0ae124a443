"""The roster as every node keeps it (``roster_statements``), and the checks it drives.

:meth:`Roster.apply` takes the next statement only if it extends the chain (``seq``,
``prev``) and carries the signatures it needs (every founder for genesis; ceil(2n/3)
of the current n nodes after). :meth:`Roster.check_node` refuses a node that is not on
the roster, or presents another key than the roster's (``fed.not_on_roster``): an
expelled node's traffic is refused from the statement on. Applying a ``rekey`` of a
peer also pins the peer's new node key (and its key id) in the same transaction, so
its descriptor, batches, heartbeats and log checkpoints are checked against the new
key from then on, and the old key is refused.

Witnessing: heartbeats carry each node's roster head; :meth:`Roster.observe` takes a
peer's statement for some ``seq``. The same statement is agreement; a *different*
statement for a ``seq`` this node holds, validly signed by a threshold of the roster
before it, is a roster fork: both are kept (``roster.fork``) as evidence.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keys import key_id
from vigil.errors import CryptoError, PolicyDenied
from vigil.roster.statements import SignedStatement, threshold
from vigil.storage import trust as q
from vigil.storage.base import Sql, Store

__all__ = ["Roster"]


class Roster:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self.chain: list[SignedStatement] = []
        self.nodes: dict[str, bytes] = {}
        self.forks: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.store.read(self._load)

    def _load(self, sql: Sql) -> None:
        for data in q.roster_statements(sql, len(self.chain)):
            signed = SignedStatement.from_json(json.loads(data))
            self.nodes = self._next(self.nodes, signed)
            self.chain.append(signed)

    def refresh(self) -> None:
        with self._lock:
            self.store.read(self._load)

    # -- the rules --------------------------------------------------------------------
    def _next(self, nodes: dict[str, bytes], signed: SignedStatement) -> dict[str, bytes]:
        s = signed.statement
        seq = len(self.chain)
        prev = self.chain[-1].digest() if self.chain else None
        if s.get("v") != 1 or s.get("seq") != seq or s.get("prev") != prev:
            raise CryptoError("not the next roster statement", code="roster.bad_statement")
        kind = s.get("kind")
        if seq == 0:
            if kind != "genesis" or not isinstance(s.get("nodes"), dict) or not s["nodes"]:
                raise CryptoError("the roster starts with its genesis",
                                  code="roster.bad_statement")
            founders = {str(n): b64u_decode(str(k)) for n, k in s["nodes"].items()}
            if signed.signers(founders) != set(founders):
                raise CryptoError("every founding node signs the genesis",
                                  code="roster.threshold")
            return founders
        need = threshold(len(nodes))
        got = signed.signers(nodes)
        if len(got) < need:
            raise CryptoError(f"{len(got)} of the {need} node signatures a roster change "
                              f"needs", code="roster.threshold")
        node = s.get("node")
        if not isinstance(node, str):
            raise CryptoError("a roster change names its node", code="roster.bad_statement")
        out = dict(nodes)
        if kind == "admit":
            if node in nodes:
                raise CryptoError("already on the roster", code="roster.bad_statement")
            out[node] = b64u_decode(str(s.get("key")))
        elif kind == "rekey":
            if node not in nodes:
                raise CryptoError("not on the roster", code="roster.bad_statement")
            out[node] = b64u_decode(str(s.get("key")))
        elif kind == "expel":
            if node not in nodes:
                raise CryptoError("not on the roster", code="roster.bad_statement")
            del out[node]
        else:
            raise CryptoError("a second genesis", code="roster.bad_statement")
        return out

    def apply(self, signed: SignedStatement) -> None:
        def run(sql: Sql) -> None:
            with self._lock:
                self._load(sql)
                nodes = self._next(self.nodes, signed)
                kind = str(signed.statement["kind"])
                q.add_roster_statement(sql, len(self.chain), kind, signed.data())
                if kind == "rekey":
                    node = str(signed.statement["node"])
                    q.rekey_peer(sql, node, nodes[node], key_id("ed25519", nodes[node]))
                self.chain.append(signed)
                self.nodes = nodes
        try:
            self.store.write(run)
        except Exception:
            with self._lock:
                self.chain, self.nodes = [], {}
                self.store.read(self._load)
            raise

    def check_node(self, node: str, key: bytes | None = None) -> None:
        self.refresh()
        held = self.nodes.get(node)
        if held is None or (key is not None and bytes(key) != held):
            raise PolicyDenied(f"{node} is not on the roster with this key",
                               code="fed.not_on_roster")

    def threshold(self) -> int:
        return threshold(len(self.nodes))

    def head(self) -> dict[str, Any] | None:
        self.refresh()
        return self.chain[-1].to_json() if self.chain else None

    def observe(self, obj: Any) -> str:
        """A peer's statement: ``same``, ``ahead`` (applied if valid), ``unknown`` or
        ``fork`` (kept as evidence)."""
        try:
            signed = SignedStatement.from_json(obj)
            seq = int(signed.statement["seq"])
        except (CryptoError, KeyError, TypeError, ValueError):
            return "unknown"
        self.refresh()
        if seq == len(self.chain):
            try:
                self.apply(signed)
            except CryptoError:
                return "unknown"
            return "ahead"
        if seq > len(self.chain) or seq < 0:
            return "unknown"
        mine = self.chain[seq]
        if mine.digest() == signed.digest():
            return "same"
        nodes_before = self._nodes_at(seq)
        probe = Roster.__new__(Roster)
        probe.chain = self.chain[:seq]
        try:
            probe._next(nodes_before, signed)
        except CryptoError:
            return "unknown"  # not validly signed: proves nothing
        self.forks.append((mine.to_json(), signed.to_json()))
        return "fork"

    def _nodes_at(self, seq: int) -> dict[str, bytes]:
        probe = Roster.__new__(Roster)
        probe.chain = []
        nodes: dict[str, bytes] = {}
        for st in self.chain[:seq]:
            nodes = probe._next(nodes, st)
            probe.chain.append(st)
        return nodes
