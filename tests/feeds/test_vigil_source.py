"""A node's feed pulls from another vigil node's own TAXII 2.1 server, with a Bearer
token: the objects one member may read there are published here; and a channel is
pushed back to that node's publish collection."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
from click.testing import CliRunner

from vigil import testing
from vigil.cli.main import cli
from vigil.client import Client
from vigil.feeds import registry
from vigil.model import ChannelKind


def test_pull_from_and_push_to_a_vigil_node_with_a_bearer_token(tmp_path: Path) -> None:
    source = testing.make_node(tmp_path / "source", {"origin": True, "reader": True})
    here = testing.make_node(tmp_path / "here", {"alpha": True, "bravo": True})
    ex = here.exchange()
    ex.create_channel(here.members["alpha"].id, "intel", ChannelKind.GROUP,
                      [here.members["bravo"].id])
    ex.store.close()
    objs = [{"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
             "created": "2024-06-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z",
             "name": f"family {i}", "is_family": True} for i in range(3)]
    with testing.ServerProcess(source.data) as srv:
        with Client(srv.url, source.members["origin"].token) as c:
            c.publish(orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                    "objects": objs}), tlp="green")
        token = source.members["reader"].token
        run = CliRunner().invoke
        res = run(cli, ["--data", str(here.data), "feed", "add", f"{srv.url}/taxii2/api/",
                        "--collection", "inbox", "--as", "alpha", "--tlp", "green",
                        "--to", "intel", "--name", "peer", "--token", token],
                  catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert "auth bearer token" in res.output and token not in res.output
        res = run(cli, ["--data", str(here.data), "feed", "pull", "peer"],
                  catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert "3 fetched, 3 published" in res.output
        # and back: the channel pushed as bravo to the source node's publish collection
        res = run(cli, ["--data", str(here.data), "feed", "push", "--channel", "intel",
                        "--as", "bravo", "--to", f"{srv.url}/taxii2/api/", "--collection",
                        "publish-community-green", "--token", token], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert "3 added, 0 failed" in res.output
    src = source.exchange()
    try:  # the source's origin received the reader's share of the same objects
        rows, _, _ = src.inbox_page(source.members["origin"].id, 0, 10)
        plain = src.open(source.members["origin"].id, rows[-1][1])
        assert plain is not None and rows[-1][1].originator == source.members["reader"].id
        assert {o["id"] for o in orjson.loads(plain)["objects"]} == {o["id"] for o in objs}
    finally:
        src.store.close()
    ex = here.exchange()
    try:
        rows, _, _ = ex.inbox_page(here.members["bravo"].id, 0, 10)
        assert len(rows) == 1
        plain = ex.open(here.members["bravo"].id, rows[0][1])
        assert plain is not None
        assert {o["id"] for o in orjson.loads(plain)["objects"]} == {o["id"] for o in objs}
        assert registry.get_feed(ex.store, "peer").cursor is not None
    finally:
        ex.store.close()
