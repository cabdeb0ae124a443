"""The SDK's inbox cursor and stream reconnection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from vigil import testing
from vigil.client import Client
from vigil.testing import stix


def test_inbox_cursor_moves_past_entries_the_node_skipped() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        after = int(request.url.params["after"])
        return httpx.Response(200, json={"entries": [], "next": max(after, 7)})

    with Client("http://node.test", "t", transport=httpx.MockTransport(handler)) as c:
        entries = c.inbox(after=3)
        assert list(entries) == []
        assert entries.cursor == 7


def bundle() -> bytes:
    return stix.bundle(stix.malware("stream test"))


async def test_stream_reconnects_with_last_event_id(tmp_path: Path) -> None:
    node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    alpha, bravo = node.members["alpha"], node.members["bravo"]
    srv = testing.ServerProcess(node.data).start()
    try:
        with Client(srv.url, alpha.token) as pub:
            first = pub.publish(bundle(), tlp="green", to=["member:bravo"])["id"]
        with Client(srv.url, bravo.token) as c:
            stream = c.stream(after=0)
            got = await asyncio.wait_for(stream.__anext__(), 30)
            assert got.share_id == first and stream.cursor == got.seq
            srv.stop()  # the node goes away mid-stream and comes back on the same port
            srv = testing.ServerProcess(node.data, port=srv.port).start()
            with Client(srv.url, alpha.token) as pub:
                second = pub.publish(bundle(), tlp="green", to=["member:bravo"])["id"]
            got2 = await asyncio.wait_for(stream.__anext__(), 60)
            await stream.aclose()
        assert got2.share_id == second  # resumed after the first: nothing repeated
        assert stream.reconnects >= 1 and stream.cursor == got2.seq
    finally:
        srv.stop()
