"""A node federates only on a store that is durable before it acknowledges; PostgreSQL
nodes federate like SQLite ones."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from starlette.testclient import TestClient
from tests.conftest import PG_ADMIN_URL
from tests.federation.pairs import deliver, inbox_ids, make, peer, publish

from vigil.errors import VigilError
from vigil.federation import peers
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


def test_a_share_crosses_from_sqlite_to_postgresql(tmp_path: Path, pg_url: str) -> None:
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True}, store=pg_url)
    try:
        peer(a, b)
        deliver(b, a)
        deliver(a, b)
        sid = publish(a, "alpha", ["member:bravo@berlin"])
        got = deliver(a, b)
        assert got.quarantined == [] and sid in inbox_ids(b, "bravo")
        again = deliver(a, b)  # nothing new: nothing twice
        assert again.quarantined == [] and inbox_ids(b, "bravo").count(sid) == 1
    finally:
        a.close()
        b.close()
