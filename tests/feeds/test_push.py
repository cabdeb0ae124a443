"""A push of a channel to a TAXII collection: only what the member may pass on and the node
can open is sent, the rest counted by reason; what the server did not add makes the push
fail and is the only thing sent again."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
from click.testing import CliRunner
from tests.feeds.conftest import add_feed, vigil
from tests.feeds.medallion import PASSWORD, PUSH_OUT, SOURCE, USER, Medallion, source_objects

from vigil import testing
from vigil.cli.main import cli
from vigil.errors import VigilError
from vigil.feeds.push import PushResult, channel_objects
from vigil.model import Actor, ChannelKind
from vigil.stix.tlp import parse_tlp


def test_push_withholds_what_the_member_may_not_pass_on(tmp_path: Path) -> None:
    node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True,
                                                 "delta": False})
    m = node.members
    ex = node.exchange()
    try:
        ex.create_channel(m["alpha"].id, "ops", ChannelKind.GROUP, [m["bravo"].id,
                                                                   m["delta"].id])

        def share(tlp: str, no_onward: bool = False) -> None:
            raw = orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [
                {"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
                 "created": "2024-06-01T00:00:00.000Z",
                 "modified": "2024-06-01T00:00:00.000Z", "name": tlp, "is_family": True}]})
            req = ex.make_request(m["alpha"].id, tlp=parse_tlp(tlp), to=["ops"],
                                  no_onward=no_onward)
            ex.publish_bundle(Actor(m["alpha"].id), raw, req)

        share("green")
        share("amber")
        share("green", no_onward=True)
        as_bravo = PushResult()
        objs = channel_objects(ex, "bravo", "ops", as_bravo)
        assert [o["name"] for o in objs] == ["green"]
        assert dict(as_bravo.withheld) == {"policy.tlp_forbids_onward": 1,
                                           "policy.no_onward": 1}
        as_delta = PushResult()  # its keys are not on the node: nothing can be opened
        assert channel_objects(ex, "delta", "ops", as_delta) == []
        assert as_delta.withheld["sealed to keys this node does not hold"] == 1
        as_alpha = PushResult()  # the originator may pass on all of its own
        assert len(channel_objects(ex, "alpha", "ops", as_alpha)) == 3
    finally:
        ex.store.close()


def test_a_push_the_server_fails_exits_non_zero_and_resends_only_that(
        node: testing.TestNode, medallion: Medallion) -> None:
    add_feed(node, medallion, SOURCE)
    vigil(node, "feed", "pull", "med")
    valid = [o for o in source_objects() if o.get("spec_version") == "2.1"]
    medallion.client(PUSH_OUT).add_objects({"objects": [valid[0]]})  # already there
    args = ["--data", str(node.data), "feed", "push", "--channel", "intel", "--as", "bravo",
            "--to", medallion.root, "--collection", PUSH_OUT, "--user", USER,
            "--password", PASSWORD]
    res = CliRunner().invoke(cli, args)
    assert f"{len(valid) - 1} added, 1 failed" in res.output
    assert isinstance(res.exception, VigilError)
    assert res.exception.code == "feed.push_incomplete"
    res = CliRunner().invoke(cli, args)  # only the failed one is sent again
    assert f"{len(valid) - 1} sent before, 0 added, 1 failed" in res.output
    assert isinstance(res.exception, VigilError)
