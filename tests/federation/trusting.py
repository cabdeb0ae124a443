"""Two peered nodes, athens (alpha) and berlin (bravo), each with its trust service
installed, and a witness peer that reaches a node's own witness; for the trust tests."""

from __future__ import annotations

from pathlib import Path

from tests.federation.pairs import Node, make, peer

from vigil.federation.trust import TrustService, witness_name
from vigil.witness.collector import WitnessPeer


def trusting_pair(tmp_path: Path) -> tuple[Node, Node, TrustService, TrustService]:
    """athens and berlin peered, their trust services installed (the caller uninstalls
    them and closes the nodes)."""
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True})
    peer(a, b)
    ta, tb = TrustService(a.ex), TrustService(b.ex)
    ta.install()
    tb.install()
    return a, b, ta, tb


def witness_of(t: TrustService) -> WitnessPeer:
    def submit(body: bytes) -> tuple[int, str, bytes]:
        a = t.witness.add_checkpoint(body)
        return a.status, a.content_type, a.body
    return WitnessPeer(witness_name(t.ex.node_id), t.ex.node_key_raw, submit)
