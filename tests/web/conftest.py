from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vigil.bus.local import LocalBus
from vigil.model import ChannelKind
from vigil.testing import TestNode, make_node
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
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True,
                                         "delta": False})
    settings = node.settings.with_overrides(max_body=200_000)
    ex = node.exchange()
    m = node.members
    ex.create_channel(m["alpha"].id, "a-b", ChannelKind.BILATERAL, [m["bravo"].id])
    ex.create_channel(m["alpha"].id, "group1", ChannelKind.GROUP,
                      [m["bravo"].id, m["delta"].id])
    ex.create_channel(m["alpha"].id, "everyone", ChannelKind.COMMUNITY, [])
    app = create_app(settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as client:
        yield Api(node, client)
    ex.store.close()
