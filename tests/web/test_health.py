"""/healthz, /readyz (store and bus) and who may scrape /metrics."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil import testing
from vigil.bus.jetstream import JetStreamBus
from vigil.bus.local import LocalBus
from vigil.testing import free_port
from vigil.web import create_app
from vigil.web.health import metrics_app

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[testing.TestNode]:
    node, ex = four_member_exchange(tmp_path / "node")
    ex.store.close()
    yield node


def client(node: testing.TestNode, bus: object | None = None, **settings: object) -> TestClient:
    app = create_app(node.settings.with_overrides(**settings), exchange=node.exchange(),
                     bus=bus or LocalBus())  # type: ignore[arg-type]
    return TestClient(app)


def test_ready_while_store_and_bus_answer_and_503_when_the_store_fails(
        node: testing.TestNode, monkeypatch: pytest.MonkeyPatch) -> None:
    with client(node, metrics_token=TOKEN) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/readyz").status_code == 200
        store = c.app.state.vigil.exchange.store  # type: ignore[attr-defined]

        def broken(key: str) -> str:
            raise sqlite3.OperationalError("disk I/O error")

        monkeypatch.setattr(store, "get_meta", broken)
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "node.store_unreachable"
        assert c.get("/healthz").status_code == 200  # the process still answers
        text = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
        assert "vigil_store_errors_total 1.0" in text


def test_not_ready_while_the_bus_is_not_connected(node: testing.TestNode) -> None:
    bus = JetStreamBus(f"nats://127.0.0.1:{free_port()}", start_timeout=0.1)
    with client(node, bus=bus) as c:
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "node.bus_unreachable"


def test_metrics_need_the_token_and_look_missing_without_it(node: testing.TestNode) -> None:
    with client(node) as c:  # no token configured: never served on the node's port
        assert c.get("/metrics").status_code == 404
        assert c.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    with client(node, metrics_token=TOKEN) as c:
        unknown = c.get("/no-such-path")
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": f"Basic {TOKEN}"}):
            r = c.get("/metrics", headers=headers)
            assert r.status_code == 404 and r.json() == unknown.json()
        r = c.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200 and "vigil_log_entries" in r.text
        # the separate listener: /metrics without a token, and nothing else
        side = TestClient(metrics_app(c.app))
        assert "vigil_http_requests_total" in side.get("/metrics").text
        assert side.get("/healthz").status_code == 404
        assert side.get("/api/v1/inbox").status_code == 404
