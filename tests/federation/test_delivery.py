"""Shares crossing nodes: delivery into remote push streams, and nothing elsewhere."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from tests.conftest import first_event
from tests.federation.nodes import FedNode, knows, make_fed_node, peer_all, running, wait_for

from vigil.client import Client
from vigil.errors import VigilError
from vigil.federation import peers
from vigil.federation.descriptor import tls_paths, tls_pin
from vigil.testing.stix import canary_bundle as bundle_with


def share_rows(node: FedNode, share_id: str) -> int:
    """Rows naming the share in the node's database, over every table."""
    db = sqlite3.connect(node.node.data / "vigil.db")
    try:
        n = 0
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            cols = [r[1] for r in db.execute(f"PRAGMA table_info({t})")]
            for c in cols:
                n += db.execute(f"SELECT count(*) FROM {t} WHERE CAST({c} AS TEXT) LIKE ?",
                                (f"%{share_id}%",)).fetchone()[0]
        return n
    finally:
        db.close()


@pytest.fixture
def three(tmp_path: Path) -> list[FedNode]:
    return [make_fed_node(tmp_path, "athens", {"alpha": True}),
            make_fed_node(tmp_path, "berlin", {"bravo": True}),
            make_fed_node(tmp_path, "cairo", {"charlie": True})]


async def test_share_crosses_to_the_recipients_node_only(three: list[FedNode]) -> None:
    a, b, c = three
    with running(three):
        peer_all(three)
        await asyncio.to_thread(wait_for, knows(a, "bravo@berlin"))
        ca = Client(a.url, a.node.members["alpha"].token)
        cb = Client(b.url, b.node.members["bravo"].token)
        cc = Client(c.url, c.node.members["charlie"].token)
        b_task = asyncio.create_task(first_event(cb, 10.0))
        c_task = asyncio.create_task(first_event(cc, 1.0))
        await asyncio.sleep(0.3)
        res = await asyncio.to_thread(ca.publish, bundle_with("x"), tlp="amber",
                                      to=["member:bravo@berlin"])
        assert res["recipients"] == [b.member_id("bravo")]
        got = await b_task
        assert got is not None and got.share_id == res["id"]
        assert await c_task is None
        share = await asyncio.to_thread(cb.get, res["id"])
        assert share.bundle is not None and b"secret note x" in share.bundle
        st = a.status()
        link = {p["peer"]: p for p in st["peers"]}["berlin"]
        assert link["sent"]["acked"] == link["sent"]["head"]
        for cl in (ca, cb, cc):
            cl.close()
    assert share_rows(c, res["id"]) == 0
    assert share_rows(b, res["id"]) > 0


def test_peers_over_tls_pin_each_other(tmp_path: Path) -> None:
    a = make_fed_node(tmp_path, "athens", {"alpha": True}, tls=True)
    b = make_fed_node(tmp_path, "berlin", {"bravo": True}, tls=True)
    with running([a, b]):
        peer_all([a, b])
        p = peers.peer(a.exchange().store, "berlin")
        assert p.url.startswith("https://") and p.tls_pin == tls_pin(
            tls_paths(b.node.data)[0])
        wait_for(knows(a, "bravo@berlin"))
        ca = Client(a.url, a.node.members["alpha"].token, pin=tls_pin(tls_paths(a.node.data)[0]))
        res = ca.publish(bundle_with("tls"), tlp="amber", to=["member:bravo@berlin"])
        ca.close()
        wait_for(lambda: b.service.ex.store.get_share(res["id"]) is not None)
        got = peers.fetch_descriptor(b.url, tls_pin(tls_paths(b.node.data)[0]))
        assert got["descriptor"]["tls_pin"] == p.tls_pin
        with pytest.raises(VigilError) as e:  # a wrong TLS key is refused before any byte
            peers.fetch_descriptor(b.url, tls_pin(tls_paths(a.node.data)[0]))
        assert e.value.code in ("tls.pin_mismatch", "fed.unreachable")
