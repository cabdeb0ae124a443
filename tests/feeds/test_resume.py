"""A pull cut at every page boundary in turn, against a vigil node and against a real
medallion: the objects published equal the source's, each once. Each source gives
groups of objects one ``date_added`` (a vigil share's objects, a medallion POST), and
pages end inside those groups. The proxy either refuses the next page's request or
lets the server answer and loses the answer."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.feeds.medallion import FEED_IN, PASSWORD, USER, Medallion
from tests.feeds.proxy import CuttingProxy

from vigil import testing
from vigil.client import Client
from vigil.errors import VigilError
from vigil.feeds import registry
from vigil.feeds.pull import object_key, pull_claimed
from vigil.feeds.registry import Auth, Feed
from vigil.node.exchange import Exchange

GROUPS = (5, 4, 3)  # objects per share (vigil) or per POST (medallion): one date each


def groups() -> list[list[dict[str, Any]]]:
    out = []
    for n in GROUPS:
        out.append([{"type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
                     "created": "2024-06-01T00:00:00.000Z",
                     "modified": "2024-06-01T00:00:00.000Z", "name": f"family {i}",
                     "is_family": True} for i in range(n)])
    return out


PAGES = -(-sum(GROUPS) // 2)  # two objects a page
CUTS = range(1, PAGES)  # the page boundaries: after page k, the request for k + 1
MODES = ("refuse", "lose")
MEMBERS = {"bravo": True, **{f"{mode}{k}": True for mode in MODES for k in CUTS}}


def published(ex: Exchange, me: str) -> Counter[tuple[str, str]]:
    """How many times each (id, version) went out in the member's shares."""
    seen: Counter[tuple[str, str]] = Counter()
    for _, env, _ in ex.sent(me, 0, 1000):
        plain = ex.open(me, env)
        assert plain is not None
        seen.update(object_key(o) for o in orjson.loads(plain)["objects"])
    return seen


def cut_at_every_boundary(node: testing.TestNode, url: str, collection: str, auth: Auth,
                          proxy: CuttingProxy, want: set[tuple[str, str]]) -> None:
    """For each page boundary k in turn, a feed of its own member: a pull cut after
    page k, then a pull that completes; the member published each object once."""
    ex = node.exchange()
    try:
        for k in CUTS:
            member = f"{proxy.mode}{k}"
            me = node.members[member].id
            proxy.requests = 0
            proxy.cut = lambda n, k=k: n == k + 1  # type: ignore[misc]
            registry.add_feed(ex.store, Feed(member, url, collection, me, "green", (), 60,
                                             auth))
            with pytest.raises(VigilError) as cut:
                pull_claimed(ex, member)
            assert cut.value.code == "taxii.unavailable"
            assert sum(published(ex, me).values()) == 2 * k  # k pages before the cut
            pull_claimed(ex, member)  # the lease was released: no feed.busy
            got = published(ex, me)
            assert set(got) == want, k
            assert set(got.values()) == {1}, k
    finally:
        ex.store.close()


def test_resume_from_a_vigil_node(tmp_path: Path) -> None:
    source = testing.make_node(tmp_path / "source", {"origin": True, "reader": True})
    here = testing.make_node(tmp_path / "here", MEMBERS)
    want = groups()
    with testing.ServerProcess(source.data) as srv:
        with Client(srv.url, source.members["origin"].token) as c:
            for objs in want:
                c.publish(orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                        "objects": objs}), tlp="green")
        for mode in MODES:
            with CuttingProxy(srv.url, cut=bool, mode=mode, limit=2) as proxy:
                cut_at_every_boundary(here, f"{proxy.url}/taxii2/api/", "inbox",
                                      Auth(token=source.members["reader"].token), proxy,
                                      {object_key(o) for g in want for o in g})


@pytest.mark.parametrize("mode", MODES)
def test_resume_from_medallion(tmp_path: Path, mode: str) -> None:
    here = testing.make_node(tmp_path / "here", MEMBERS)
    want = groups()
    server = Medallion(tmp_path).start()  # two objects a page
    try:
        for objs in want:
            server.client(FEED_IN).add_objects({"objects": objs})
        with CuttingProxy(f"http://127.0.0.1:{server.port}", cut=bool, mode=mode) as proxy:
            cut_at_every_boundary(here, f"{proxy.url}/trustgroup1/", FEED_IN,
                                  Auth(USER, PASSWORD), proxy,
                                  {object_key(o) for g in want for o in g})
    finally:
        server.stop()
