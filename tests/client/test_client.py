"""The SDK's error classes, inbox cursor and stream reconnection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from vigil import testing
from vigil.client import Client, ServerError
from vigil.errors import (
    AuthError,
    Conflict,
    CryptoError,
    InputError,
    NotFound,
    PolicyDenied,
    StixError,
    Unavailable,
    VigilError,
)
from vigil.testing import stix


def answering(status: int, code: str, pointer: str | None = None) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        err = {"code": code, "message": "no", **({"pointer": pointer} if pointer else {})}
        return httpx.Response(status, json={"error": err})
    return Client("http://node.test", "t", transport=httpx.MockTransport(handler))


@pytest.mark.parametrize(("status", "code", "cls"), [
    (400, "input.malformed", InputError),
    (401, "auth.bad_token", AuthError),
    (403, "policy.not_in_channel", PolicyDenied),
    (404, "share.not_found", NotFound),
    (409, "share.sealed", Conflict),
    (413, "input.too_large", InputError),
    (422, "stix.pattern", StixError),
    (422, "crypto.bad_signature", CryptoError),
    (503, "service.unavailable", Unavailable),
    (500, "internal", ServerError),
])
def test_http_errors_become_vigil_errors(status: int, code: str,
                                         cls: type[VigilError]) -> None:
    with answering(status, code, "/objects/0") as c, pytest.raises(cls) as info:
        c.me()
    assert type(info.value) is cls
    assert (info.value.code, info.value.status, info.value.pointer) == \
        (code, status, "/objects/0")


def test_unreachable_node_is_unavailable() -> None:
    with Client(f"http://127.0.0.1:{testing.free_port()}", "t") as c, \
            pytest.raises(Unavailable) as info:
        c.me()
    assert info.value.code == "client.unreachable"


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
