"""A node with four members on SQLite and on PostgreSQL, for the correlation tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import four_member_exchange

from vigil import testing
from vigil.model import ChannelKind
from vigil.node.exchange import Exchange


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path
         ) -> Iterator[tuple[testing.TestNode, Exchange]]:
    if request.param == "sqlite":
        n, ex = four_member_exchange(tmp_path / "node")
    else:
        url = request.getfixturevalue("pg_url")
        n = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True,
                                          "delta": False}, store=url)
        ex = n.exchange()
        m = n.members
        ex.create_channel(m["alpha"].id, "a-b", ChannelKind.BILATERAL, [m["bravo"].id])
        ex.create_channel(m["alpha"].id, "group1", ChannelKind.GROUP,
                          [m["bravo"].id, m["delta"].id])
        ex.create_channel(m["alpha"].id, "everyone", ChannelKind.COMMUNITY, [])
    try:
        yield n, ex
    finally:
        ex.store.close()


def ids(n: testing.TestNode) -> dict[str, str]:
    return {k: v.id for k, v in n.members.items()}
