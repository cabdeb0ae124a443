"""The feed tests' node (alpha, bravo, charlie and their group channel "intel"; on SQLite
and on PostgreSQL), the medallion TAXII server, and the CLI run against the node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.feeds.medallion import PASSWORD, USER, Medallion

from vigil import testing
from vigil.cli.main import cli
from vigil.model import ChannelKind


@pytest.fixture
def medallion(tmp_path: Path) -> Iterator[Medallion]:
    server = Medallion(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> testing.TestNode:
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    n = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True},
                  store=store)
    ex = n.exchange()
    try:
        m = n.members
        ex.create_channel(m["alpha"].id, "intel", ChannelKind.GROUP, [m["bravo"].id])
    finally:
        ex.store.close()
    return n


def vigil(node: testing.TestNode, *args: str) -> str:
    res = CliRunner().invoke(cli, ["--data", str(node.data), *args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def add_feed(node: testing.TestNode, med: Medallion, collection: str, *extra: str) -> str:
    return vigil(node, "feed", "add", med.root, "--collection", collection, "--as", "alpha",
                 "--tlp", "green", "--to", "intel", "--name", "med", "--user", USER,
                 "--password", PASSWORD, *extra)
