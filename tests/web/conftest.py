from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.testing import TestNode
from vigil.web import create_app


class Api:
    def __init__(self, node: TestNode, client: TestClient) -> None:
        self.node = node
        self.client = client
        self.exchange = client.app.state.vigil.exchange  # type: ignore[attr-defined]

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node.members[name].token}"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    node, ex = four_member_exchange(tmp_path / "node")
    settings = node.settings.with_overrides(max_body=200_000)
    app = create_app(settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as client:
        yield Api(node, client)
    ex.store.close()
