"""A node over the real app for the accountability tests (receipts, recall, retention,
payload files): alpha, bravo, charlie (keyrings held by the node), delta (client keys);
where a value is left in the store; vigil's clock moved forward."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from vigil import clock
from vigil.client import Client
from vigil.model import ChannelKind
from vigil.node.exchange import Exchange
from vigil.storage.base import Sql
from vigil.testing import TestNode, make_node
from vigil.testing.stix import canary_bundle as bundle_with
from vigil.web import create_app


@dataclass
class Node:
    node: TestNode
    ex: Exchange
    http: TestClient

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node.members[name].token}"}

    def id(self, name: str) -> str:
        return self.node.members[name].id

    def sdk(self, name: str, *, keyring: bool = True) -> Client:
        m = self.node.members[name]
        return Client("http://testserver", m.token, m.keyring if keyring else None,
                      transport=self.http._transport)

    def publish(self, who: str, body: bytes, **params: Any) -> str:
        r = self.http.post("/api/v1/shares", params=params, content=body, headers=self.h(who))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def log_entry(self, index: int) -> dict[str, Any]:
        [(_, data)] = self.ex.log.entries(index, index + 1)
        out: dict[str, Any] = orjson.loads(data)
        return out

    def count(self, table: str) -> int:
        return int(self.ex.store.read(
            lambda sql: sql.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]))


def build_node(data: Path, store: str | None, *, retention: float = 0.0) -> Iterator[Node]:
    """alpha, bravo, charlie (keyrings held by the node), delta (client keys); channels
    group1 (alpha, bravo, delta) and everyone (community)."""
    node = make_node(data, {"alpha": True, "bravo": True, "charlie": True, "delta": False},
                     store=store)
    ex = node.exchange()
    m = node.members
    ex.create_channel(m["alpha"].id, "group1", ChannelKind.GROUP, [m["bravo"].id, m["delta"].id])
    ex.create_channel(m["alpha"].id, "everyone", ChannelKind.COMMUNITY, [])
    from vigil.bus.local import LocalBus

    app = create_app(node.settings.with_overrides(retention_interval=retention), exchange=ex,
                     bus=LocalBus())
    try:
        with TestClient(app) as http:
            yield Node(node, ex, http)
    finally:
        ex.store.close()


def db_hits(ex: Exchange, needle: bytes) -> list[str]:
    """Every table and column of the store whose value holds ``needle``."""

    def run(sql: Sql) -> list[str]:
        if sql.dialect == "sqlite":
            tables = [r[0] for r in sql.execute(
                "SELECT name FROM sqlite_master WHERE type='table'").fetchall()]
        else:
            tables = [r[0] for r in sql.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema='public'").fetchall()]
        hits = []
        for t in tables:
            for row in sql.execute(f'SELECT * FROM "{t}"').fetchall():
                for k, v in enumerate(row):
                    raw = bytes(v) if isinstance(v, bytes | bytearray | memoryview) \
                        else str(v).encode()
                    if needle in raw:
                        hits.append(f"{t}[{k}]")
        return hits

    return ex.store.read(run)


def canary_bundle(canary: str) -> bytes:
    """A bundle whose indicator names, describes and matches the canary."""
    doc = json.loads(bundle_with(canary, 2))
    doc["objects"][0]["pattern"] = f"[domain-name:value = '{canary.lower()}.example.org']"
    return json.dumps(doc).encode()


def later(monkeypatch: pytest.MonkeyPatch, minutes: int) -> str:
    """Move vigil's clock forward: every share expiring before then is in the past."""
    at = clock.fmt(datetime.now(UTC) + timedelta(minutes=minutes))
    monkeypatch.setattr(clock, "now", lambda: at)
    return at
