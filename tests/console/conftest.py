from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.exchange import Exchange
from vigil.testing import TestNode
from vigil.web import create_app

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
TS = "2026-11-29T08:00:00.000Z"


def sid(kind: str) -> str:
    return f"{kind}--{uuid.uuid4()}"


def rich_bundle(canary: str = "rich") -> bytes:
    """An indicator, an ATT&CK for ICS technique, malware, an intrusion set, relationships."""
    ind, ap, mw, iset = sid("indicator"), sid("attack-pattern"), sid("malware"), \
        sid("intrusion-set")
    common = {"spec_version": "2.1", "created": TS, "modified": TS}
    objs: list[dict[str, Any]] = [
        {"type": "indicator", "id": ind, **common, "name": f"C2 server {canary}",
         "indicator_types": ["malicious-activity"], "pattern_type": "stix",
         "pattern": "[ipv4-addr:value = '198.51.100.7'] OR [domain-name:value = 'c2.example']",
         "valid_from": "2026-11-29T08:00:00Z"},
        {"type": "attack-pattern", "id": ap, **common, "name": "Unauthorized Command Message",
         "external_references": [{"source_name": "mitre-ics-attack", "external_id": "T0855"}]},
        {"type": "malware", "id": mw, **common, "name": "Industroyer2", "is_family": True,
         "malware_types": ["wiper"]},
        {"type": "intrusion-set", "id": iset, **common, "name": "Sandworm Team",
         "aliases": ["ELECTRUM"]},
    ]
    for src, rel, dst in ((ind, "indicates", mw), (mw, "uses", ap), (iset, "uses", mw)):
        objs.append({"type": "relationship", "id": sid("relationship"), **common,
                     "relationship_type": rel, "source_ref": src, "target_ref": dst})
    return json.dumps({"type": "bundle", "id": sid("bundle"), "objects": objs}).encode()


class Console:
    def __init__(self, node: TestNode, app: FastAPI, exchange: Exchange) -> None:
        self.node = node
        self.app = app
        self.exchange = exchange
        self.clients: list[TestClient] = []

    def client(self) -> TestClient:
        c = TestClient(self.app, follow_redirects=False)
        self.clients.append(c)
        return c

    def sign_in(self, name: str) -> TestClient:
        c = self.client()
        page = c.get("/signin")
        token = CSRF_RE.search(page.text)
        assert token is not None
        r = c.post("/signin", data={"csrf": token.group(1),
                                    "token": self.node.members[name].token})
        assert r.status_code == 303, r.text
        return c

    def id(self, name: str) -> str:
        return self.node.members[name].id


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m is not None
    return m.group(1)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    node, ex = four_member_exchange(tmp_path / "node")
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    with TestClient(app):
        con = Console(node, app, ex)
        yield con
        for c in con.clients:
            c.close()
    ex.store.close()
