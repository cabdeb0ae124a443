"""Peers of a node: added from a signed descriptor checked against the pinned key, named
once, found by name or node id, reached through a relay only when the relay is a direct
peer, removed; and a node federates only on a store durable before it acknowledges."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient
from tests.conftest import PG_ADMIN_URL
from tests.federation.pairs import make

from vigil.errors import VigilError
from vigil.federation import peers
from vigil.federation.descriptor import descriptor
from vigil.storage import open_store
from vigil.web.app import create_app


def test_sqlite_below_full_is_refused(tmp_path: Path) -> None:
    n = make(tmp_path, "athens", {"alpha": True})
    try:
        peers.check_durable(n.ex.store)  # FULL: fine
        n.ex.store._writer.execute("PRAGMA synchronous=NORMAL")  # type: ignore[attr-defined]
        with pytest.raises(VigilError) as e:
            peers.check_durable(n.ex.store)
        assert e.value.code == "fed.not_durable"
        app = create_app(n.node.settings, exchange=n.ex)
        with TestClient(app) as client:
            r = client.post("/fed/v1/batch", content=b"{}")
            assert (r.status_code, r.json()["error"]["code"]) == (503, "fed.not_durable")
            r = client.get("/.well-known/vigil-node")
            assert r.json()["error"]["code"] == "fed.not_durable"
    finally:
        n.close()



def test_postgresql_without_synchronous_commit_is_refused(pg_url: str) -> None:
    store = open_store(pg_url)
    try:
        store.migrate()
        peers.check_durable(store)
    finally:
        store.close()
    name = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    store = open_store(pg_url)
    try:
        with pytest.raises(VigilError) as e:
            peers.check_durable(store)
        assert e.value.code == "fed.not_durable"
    finally:
        store.close()


def test_peers_from_signed_descriptors(tmp_path: Path) -> None:
    a, b, c = (make(tmp_path, n, {}) for n in ("athens", "berlin", "cairo"))
    try:
        signed_b = descriptor(b.ex, b.node.settings)
        pin_b = signed_b["descriptor"]["pin"]
        with pytest.raises(VigilError) as caught:
            peers.add(a.ex, "http://berlin.invalid", pin_b,
                      signed=descriptor(c.ex, c.node.settings))
        assert caught.value.code == "fed.pin_mismatch"
        with pytest.raises(VigilError) as caught:
            own = descriptor(a.ex, a.node.settings)
            peers.add(a.ex, "http://athens.invalid", own["descriptor"]["pin"], signed=own)
        assert caught.value.code == "fed.self_peer"
        p = peers.add(a.ex, "http://berlin.invalid", pin_b, signed=signed_b)
        assert (p.name, p.node, p.via) == ("berlin", b.ex.node_id, None)
        assert p.url == signed_b["descriptor"]["endpoints"]["fed"]
        assert peers.peer(a.ex.store, "berlin") == peers.peer(a.ex.store, b.ex.node_id) == p
        assert [x.name for x in peers.peers(a.ex.store)] == ["berlin"]
        assert peers.stored_descriptor(a.ex, pin_b) == signed_b
        # another node under a name already taken
        twin = make(tmp_path / "twin", "berlin", {})
        try:
            signed_t = descriptor(twin.ex, twin.node.settings)
            with pytest.raises(VigilError) as caught:
                peers.add(a.ex, "http://twin.invalid", signed_t["descriptor"]["pin"],
                          signed=signed_t)
            assert caught.value.code == "fed.peer_exists"
        finally:
            twin.close()
        signed_c = descriptor(c.ex, c.node.settings)
        pin_c = signed_c["descriptor"]["pin"]
        via = peers.add(a.ex, "http://cairo.invalid", pin_c, signed=signed_c,
                        via=b.ex.node_id)
        assert via.via == b.ex.node_id
        with pytest.raises(VigilError) as caught:  # a relay reached through a relay
            peers.add_via(a.ex, "cairo", pin_b)
        assert caught.value.code == "relay.no_route"
        assert peers.remove(a.ex, "berlin").node == b.ex.node_id
        with pytest.raises(VigilError) as caught:
            peers.peer(a.ex.store, "berlin")
        assert caught.value.code == "fed.unknown_peer"
        with pytest.raises(VigilError) as caught:
            peers.stored_descriptor(a.ex, pin_b)
        assert caught.value.code == "relay.no_route"
        with pytest.raises(VigilError) as caught:
            peers.fetch_descriptor("http://127.0.0.1:9", timeout=2)
        assert caught.value.code == "fed.unreachable"
    finally:
        for n in (a, b, c):
            n.close()
