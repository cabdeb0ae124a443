"""Several workers of one node: each serves the routes, one of them sends."""

from __future__ import annotations

from pathlib import Path

from tests.federation.pairs import make, peer

from vigil.federation.sender import Service


async def test_one_worker_of_a_node_sends(tmp_path: Path) -> None:
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True})
    try:
        peer(a, b)

        async def ring(members: object) -> None:
            return None

        first = Service(a.ex, a.node.settings, ring)
        second = Service(a.ex, a.node.settings, ring)
        await first.refresh()
        await second.refresh()
        assert list(first.links) == [b.ex.node_id] and second.links == {}
        await first.stop()  # its lease goes with it
        await second.refresh()
        assert list(second.links) == [b.ex.node_id]
        await second.stop()
    finally:
        a.close()
        b.close()
