"""A MISP feed pulled by its manifest from a real HTTP server: each listed (event,
timestamp) published once as a share of the feed's member, an event narrower than the
feed's audience refused and recorded, an updated event published again, a manifest that
is not one refused."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from vigil import testing
from vigil.errors import VigilError
from vigil.feeds import registry
from vigil.feeds.misp_pull import pull
from vigil.feeds.pull import PullResult
from vigil.feeds.registry import Auth, Feed

EVENT = Path(__file__).resolve().parents[1] / "data" / "misp" / "sighting_1.json"
OWN = "6a0d5cac-2ef4-4bae-baa4-0000000000aa"  # an event for its organisation only


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "feed"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def write_feed(folder: Path, events: list[dict[str, Any]]) -> None:
    manifest = {}
    for doc in events:
        ev = doc["Event"]
        (folder / f"{ev['uuid']}.json").write_text(json.dumps(doc))
        manifest[ev["uuid"]] = {"timestamp": ev["timestamp"], "info": ev["info"]}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_pull_by_the_manifest(tmp_path: Path, served: tuple[Path, str]) -> None:
    folder, url = served
    event = json.loads(EVENT.read_text("utf-8"))
    own = copy.deepcopy(event)
    own["Event"].update(uuid=OWN, distribution="0")
    write_feed(folder, [event, own])
    node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        registry.add_feed(ex.store, Feed("m", url, "", node.members["alpha"].id, "green", (),
                                         60, Auth(), kind="misp"))
        first = pull(ex, "m", result=PullResult("m"))
        assert (first.fetched, first.shares, first.duplicates, first.rejected) == (2, 1, 0, 1)
        refused = [(r.object_id, r.code) for r in first.rejects if r.object_id == OWN]
        assert refused == [(OWN, "misp.org_only")]
        assert first.published > 0 and node.members["bravo"].id in first.recipients
        assert [r.code for r in registry.rejects(ex.store, "m")].count("misp.org_only") == 1
        again = pull(ex, "m", result=PullResult("m"))  # the published one is not fetched
        assert (again.fetched, again.shares, again.duplicates) == (1, 0, 1)
        event["Event"]["timestamp"] = str(int(event["Event"]["timestamp"]) + 1)
        write_feed(folder, [event])
        updated = pull(ex, "m", result=PullResult("m"))
        assert (updated.fetched, updated.shares, updated.duplicates) == (1, 1, 0)
        rows, _, _ = ex.inbox_page(node.members["bravo"].id, 0, 10)
        assert len(rows) == 2
        (folder / "manifest.json").write_text("[]")
        with pytest.raises(VigilError) as caught:
            pull(ex, "m", result=PullResult("m"))
        assert caught.value.code == "feed.bad_manifest"
    finally:
        ex.store.close()
