from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange
from tests.web.helpers import TS, bundle_text, indicator

from vigil.bus.local import LocalBus
from vigil.client import Client
from vigil.node.exchange import Exchange
from vigil.testing import TestNode
from vigil.web import create_app


class Recording(httpx.BaseTransport):
    """Every request and response body that passes, for checks of what travels."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url.query + request.read())
        resp = self.inner.handle_request(request)
        body = resp.read()
        self.seen.append(body)
        return httpx.Response(resp.status_code, headers=resp.headers, content=body)


class IntelApi:
    def __init__(self, node: TestNode, client: TestClient, exchange: Exchange,
                 wire: Recording | None = None) -> None:
        self.node = node
        self.client = client
        self.exchange = exchange
        self.wire = wire or Recording(client._transport)

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node.members[name].token}"}

    def sdk(self, name: str) -> Client:
        m = self.node.members[name]
        return Client("http://testserver", m.token, m.keyring, transport=self.wire,
                      verify_log=False, receipts=False)


@pytest.fixture
def iapi(tmp_path: Path) -> Iterator[IntelApi]:
    node, ex = four_member_exchange(tmp_path / "node")
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as client:
        yield IntelApi(node, client, ex)
    ex.store.close()


INTEL = {"evaluation": "B2", "legal_basis": "eu-2016/794", "legal_purpose": "investigation",
         "theme": "terrorism"}


def share(api: IntelApi, who: str = "alpha", **params: Any) -> str:
    p: dict[str, Any] = {"tlp": "amber", "to": "group1", "code": "no-court", **INTEL, **params}
    r = api.client.post("/api/v1/shares", params=p, content=bundle_text(indicator()).encode(),
                        headers=api.h(who))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


LEGAL = {"legal_basis": "eu-2016/794", "legal_purpose": ["investigation"]}


def person() -> dict[str, Any]:
    return {"type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}",
            "created": TS, "modified": TS, "name": "A. Suspect", "identity_class": "individual",
            "description": "passport no. X1234567, phone +44 20 7946 0958"}
