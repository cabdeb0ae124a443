"""The feed scheduler inside `vigil serve`: it pulls on its own, and its cursor
survives a restart of the node (the second run fetches only what is new)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.feeds.medallion import FEED_IN, PASSWORD, USER, Medallion

from vigil import testing
from vigil.cli.main import cli
from vigil.feeds import registry
from vigil.model import ChannelKind
from vigil.testing import stix


def indicator(n: int) -> dict[str, Any]:
    return stix.indicator(f"198.51.100.{n}", at="2024-04-01T00:00:00.000Z")


def wait_for_shares(node: testing.TestNode, member: str, n: int) -> int:
    """Wait until the member's inbox holds n shares (read from the node's store)."""
    deadline = time.monotonic() + 60
    while True:
        ex = node.exchange()
        try:
            rows, _, _ = ex.inbox_page(node.members[member].id, 0, 100)
        finally:
            ex.store.close()
        if len(rows) >= n or time.monotonic() > deadline:
            return len(rows)
        time.sleep(0.3)


def test_scheduled_pull_and_cursor_across_restart(tmp_path: Path,
                                                  medallion: Medallion) -> None:
    node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    ex.create_channel(node.members["alpha"].id, "intel", ChannelKind.GROUP,
                      [node.members["bravo"].id])
    ex.store.close()
    res = CliRunner().invoke(cli, [
        "--data", str(node.data), "feed", "add", medallion.root, "--collection", FEED_IN,
        "--as", "alpha", "--tlp", "green", "--to", "intel", "--every", "1s", "--name", "med",
        "--user", USER, "--password", PASSWORD], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    coll = medallion.client(FEED_IN)
    coll.add_objects({"objects": [indicator(1)]})

    with testing.ServerProcess(node.data):
        assert wait_for_shares(node, "bravo", 1) == 1
    ex = node.exchange()
    first = registry.get_feed(ex.store, "med")
    ex.store.close()
    assert first.cursor is not None and first.fetched == 1

    coll.add_objects({"objects": [indicator(2)]})
    with testing.ServerProcess(node.data):
        assert wait_for_shares(node, "bravo", 2) == 2
    ex = node.exchange()
    second = registry.get_feed(ex.store, "med")
    ex.store.close()
    # only the new object was fetched after the restart: the cursor held
    assert second.fetched == 2 and second.duplicates == 0 and second.published == 2
    assert second.cursor is not None and second.cursor > first.cursor
