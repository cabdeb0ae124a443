"""Requests to a peer reached through a relay: the sync and the async transport seal the
request to the destination, post it to the relay, and give back the answer that comes
back sealed to this node (or the relay's refusal as is, or a read timeout when no
answer comes); either way nothing is left waiting."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Literal

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from tests.federation.pairs import Node, make

from vigil.errors import PolicyDenied
from vigil.federation.peers import Peer, peer
from vigil.federation.transport import (
    AsyncRelayTransport,
    SyncRelayTransport,
    _Tunnel,
    sync_client,
)
from vigil.relay import hop as hops
from vigil.relay.replies import Replies
from vigil.relay.tunnel import open_any_reply, open_request, seal_reply
from vigil.storage import peers as peers_sql

ROME = f"node--{uuid.uuid4()}"
BERLIN = f"node--{uuid.uuid4()}"
AT = "2026-11-29T08:00:00.000Z"
Answer = Literal["answer", "refuse", "silence"]


@pytest.fixture(scope="module")
def athens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    n = make(tmp_path_factory.mktemp("transport"), "athens", {"alpha": True})
    n.ex.store.write(lambda sql: peers_sql.put_peer(
        sql, ROME, "rome", "http://rome.invalid/fed/v1", b"k" * 32, "pin-rome", b"h" * 32,
        None, "rome.invalid/log", "{}", AT))
    yield n
    n.close()


class World:
    """berlin's hop key, athens' hop key, and a relay that does as told."""

    def __init__(self, athens: Node, answer: Answer) -> None:
        self.athens = athens
        self.b_hop, self.a_hop = X25519PrivateKey.generate(), X25519PrivateKey.generate()
        self.dest = Peer(BERLIN, "berlin", "http://berlin.invalid/fed/v1", b"k" * 32, "pin",
                         self.b_hop.public_key().public_bytes_raw(), None, "berlin/log", AT,
                         via=ROME)
        self.answer = answer
        self.seen: list[httpx.Request] = []

    def relay(self, request: httpx.Request) -> httpx.Response:
        """The relay and berlin in one: berlin opens the hop and its answer reaches
        athens' waiting request (as the batch of answers would)."""
        self.seen.append(request)
        if self.answer == "refuse":
            return httpx.Response(403, json={"error": {"code": "relay.unknown_dest"}})
        if self.answer == "answer":
            inner = open_request(request.content, BERLIN, self.b_hop)
            blob = seal_reply(inner, self.a_hop.public_key().public_bytes_raw(), 201,
                              "application/json", b'{"got": "%s"}' % inner.body).blob
            nonce, status, ctype, body = open_any_reply(blob, self.athens.ex.node_id,
                                                        self.a_hop)
            self.replies().deliver(nonce, (status, ctype, body))
        return httpx.Response(202)

    def replies(self) -> Replies:
        return self.athens.ex.attach(Replies, Replies)[0]

    def tunnel(self) -> _Tunnel:
        return _Tunnel(self.athens.ex, self.a_hop, self.dest)


def sync_transport(w: World) -> SyncRelayTransport:
    t = SyncRelayTransport(w.tunnel(), timeout=0.3)
    t._client, t._relay = httpx.Client(transport=httpx.MockTransport(w.relay)), \
        peer(w.athens.ex.store, ROME)  # the relay's connection, made already
    return t


def async_transport(w: World) -> AsyncRelayTransport:
    t = AsyncRelayTransport(w.tunnel(), timeout=0.3)
    t._client, t._relay = httpx.AsyncClient(transport=httpx.MockTransport(w.relay)), \
        peer(w.athens.ex.store, ROME)
    return t


def check_posted(w: World) -> None:
    (posted,) = w.seen
    assert posted.url == "http://rome.invalid/fed/v1/relay"
    assert posted.headers["content-type"] == "application/octet-stream"
    assert hops.Hop.from_header(posted.headers[hops.HEADER], posted.content).dest == BERLIN
    assert b"/fed/v1/batch" not in posted.content  # sealed
    assert w.replies().waiting() == 0


def test_sync_the_answer_comes_back_through_the_relay(athens: Node) -> None:
    w = World(athens, "answer")
    with httpx.Client(transport=sync_transport(w)) as c:
        r = c.post("http://berlin.invalid/fed/v1/batch", content=b"items")
    assert (r.status_code, r.json()) == (201, {"got": "items"})
    check_posted(w)


async def test_async_the_answer_comes_back_through_the_relay(athens: Node) -> None:
    w = World(athens, "answer")
    async with httpx.AsyncClient(transport=async_transport(w)) as c:
        r = await c.post("http://berlin.invalid/fed/v1/batch", content=b"items")
    assert (r.status_code, r.json()) == (201, {"got": "items"})
    check_posted(w)


def test_sync_a_refusal_is_passed_on_and_silence_times_out(athens: Node) -> None:
    w = World(athens, "refuse")
    with httpx.Client(transport=sync_transport(w)) as c:
        r = c.post("http://berlin.invalid/fed/v1/batch", content=b"items")
        assert r.status_code == 403 and r.json()["error"]["code"] == "relay.unknown_dest"
        w.answer = "silence"
        with pytest.raises(httpx.ReadTimeout):
            c.post("http://berlin.invalid/fed/v1/batch", content=b"items")
    assert w.replies().waiting() == 0


async def test_async_a_refusal_is_passed_on_and_silence_times_out(athens: Node) -> None:
    w = World(athens, "refuse")
    async with httpx.AsyncClient(transport=async_transport(w)) as c:
        r = await c.post("http://berlin.invalid/fed/v1/batch", content=b"items")
        assert r.status_code == 403
        w.answer = "silence"
        with pytest.raises(httpx.ReadTimeout):
            await c.post("http://berlin.invalid/fed/v1/batch", content=b"items")
    assert w.replies().waiting() == 0


def test_a_peer_reached_directly_has_no_tunnel(athens: Node) -> None:
    w = World(athens, "answer")
    rome = peer(athens.ex.store, ROME)
    with pytest.raises(PolicyDenied) as info:
        _Tunnel(athens.ex, w.a_hop, rome)
    assert info.value.code == "relay.no_route"
    with sync_client(athens.ex, w.a_hop, rome, 1.0) as c:
        assert not isinstance(c._transport, SyncRelayTransport)
    with sync_client(athens.ex, w.a_hop, w.dest, 1.0) as c:
        assert isinstance(c._transport, SyncRelayTransport)
