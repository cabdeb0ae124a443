"""An in-process node (the real app over the test client's transport) for the SDK's
module tests: alpha, bravo, charlie (keyrings held by the node), delta (its own keys);
channels a-b, group1 (alpha, bravo, delta) and everyone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange
from tests.web.conftest import api as api  # the REST tests' app on a four-member node

from vigil.bus.local import LocalBus
from vigil.client import Client
from vigil.node.exchange import Exchange
from vigil.testing import TestNode
from vigil.web import create_app


class Local:
    def __init__(self, node: TestNode, http: TestClient, exchange: Exchange,
                 tmp: Path) -> None:
        self.node, self.http, self.exchange, self.tmp = node, http, exchange, tmp

    def sdk(self, who: str, *, keyring: bool = True) -> Client:
        m = self.node.members[who]
        return Client("http://testserver", m.token, m.keyring if keyring else None,
                      transport=self.http._transport, log_state=self.tmp / f"{who}.json")


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Local]:
    node, ex = four_member_exchange(tmp_path / "node")
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as http:
        yield Local(node, http, ex, tmp_path)
    ex.store.close()
