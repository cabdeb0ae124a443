"""A four-member node on either store, served in-process, for the sightings, ledger and
blind-token tests; and STIX bundles of real IOCs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vigil.bus.local import LocalBus
from vigil.client import Client
from vigil.model import ChannelKind
from vigil.node.exchange import Exchange
from vigil.testing import TestNode, make_node, stix
from vigil.web import create_app

FEODO = Path(__file__).resolve().parents[2] / "src/vigil/data/demo/" \
    "abusech-feodotracker-ipblocklist-2024-04-04.csv"


def feodo_ips(n: int, skip: int = 0) -> list[str]:
    """Real botnet C2 addresses from abuse.ch Feodo Tracker (shipped with vigil's demo)."""
    rows = [line.split(",")[1].strip('"') for line in FEODO.read_text().splitlines()
            if line and not line.startswith("#") and not line.startswith('"first_seen')]
    return rows[skip:skip + n]


def bundle(*values: str) -> tuple[bytes, list[str]]:
    """A bundle of one indicator per value, and the indicator ids."""
    objs = [stix.indicator(v) for v in values]
    return stix.bundle(*objs), [str(o["id"]) for o in objs]


@dataclass
class Api:
    node: TestNode
    client: TestClient
    exchange: Exchange

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node.members[name].token}"}

    def id(self, name: str) -> str:
        return self.node.members[name].id

    def sdk(self, name: str, *, keyring: bool = True) -> Client:
        """The Python SDK as a member, over the in-process app; with its keyring it signs
        and seals on the client."""
        m = self.node.members[name]
        return Client("http://testserver", m.token, m.keyring if keyring else None,
                      transport=self.client._transport)

    def publish(self, who: str, body: bytes, **params: Any) -> str:
        r = self.client.post("/api/v1/shares", params=params, content=body, headers=self.h(who))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def store_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@contextmanager
def serve(data: Path, store: str | None, **settings: Any) -> Iterator[Api]:
    """alpha, bravo, charlie (keys held by the node) and delta, echo, foxtrot (client
    keys); the channels a-b (bilateral), group1 (alpha, bravo, delta, echo) and everyone
    (community)."""
    node = make_node(data, {"alpha": True, "bravo": True, "charlie": True, "delta": False,
                            "echo": False, "foxtrot": False}, store=store)
    node.settings = node.settings.with_overrides(**settings)
    ex = node.exchange()
    m = node.members
    ex.create_channel(m["alpha"].id, "a-b", ChannelKind.BILATERAL, [m["bravo"].id])
    ex.create_channel(m["alpha"].id, "group1", ChannelKind.GROUP,
                      [m["bravo"].id, m["delta"].id, m["echo"].id])
    ex.create_channel(m["alpha"].id, "everyone", ChannelKind.COMMUNITY, [])
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    try:
        with TestClient(app) as client:
            yield Api(node, client, ex)
    finally:
        ex.store.close()
