"""A node's side of relayed hops, without a network: as destination, a hop opens only to
a node route of this node from one of its peers; as relay, a hop id is taken once and
only for a destination it reaches directly; as origin, each answer of a relay's batch
goes to the request waiting for it, and answers for another node or request are left."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from tests.federation.pairs import network

from vigil.errors import VigilError
from vigil.federation.descriptor import hop_key
from vigil.federation.relaying import Relaying
from vigil.relay.replies import Replies
from vigil.relay.tunnel import open_request, pack_hops, seal_reply, seal_request


def test_hops_as_destination_relay_and_origin(tmp_path: Path) -> None:
    with network(tmp_path, {"athens": {}, "berlin": {}}) as (a, b):
        a_key, b_key = hop_key(a.node.data), hop_key(b.node.data)
        a_pub, b_pub = (k.public_key().public_bytes_raw() for k in (a_key, b_key))
        at_b, at_a = Relaying(b.ex, b_key), Relaying(a.ex, a_key)
        athens, berlin = a.ex.node_id, b.ex.node_id

        def hop_to_b(path: str, origin: str = athens) -> bytes:
            return seal_request(origin, berlin, b_pub, "GET", path, {}, b"")[0].blob

        async def run() -> None:
            inner, origin = await at_b._open(hop_to_b("/fed/v1/outbox?after=0"))
            assert (inner.origin, inner.path, origin.name) == (
                athens, "/fed/v1/outbox?after=0", "athens")
            for path in ("/fed/v1/relay", "/fed/v1/hop", "/api/v1/me", "/fed/v1/../api/v1/me",
                         "/fed/v1/a%2Fb"):
                with pytest.raises(VigilError) as caught:
                    await at_b._open(hop_to_b(path))
                assert caught.value.code == "relay.bad_hop", path
            with pytest.raises(VigilError) as caught:
                await at_b._open(hop_to_b("/fed/v1/outbox", origin="node--stranger"))
            assert caught.value.code == "fed.unknown_peer"
            # as relay: a destination berlin does not reach; a hop id taken once
            hop, _ = seal_request(berlin, "node--elsewhere", a_pub, "GET", "/fed/v1/x", {},
                                  b"")
            with pytest.raises(VigilError) as caught:
                await at_b.pass_on(hop)
            assert caught.value.code == "relay.no_route"
            hop, _ = seal_request(berlin, athens, a_pub, "GET", "/fed/v1/x", {}, b"")
            with pytest.raises(VigilError) as caught:  # athens.invalid: not reached
                await at_b.pass_on(hop)
            assert caught.value.code == "fed.unreachable"
            with pytest.raises(VigilError) as caught:
                await at_b.pass_on(hop)
            assert caught.value.code == "relay.bad_hop"
            # as origin: athens waits for the answer to its request
            hop, nonce = seal_request(athens, berlin, b_pub, "GET", "/fed/v1/outbox", {}, b"")
            waiting = a.ex.attach(Replies, Replies)[0].expect(nonce)
            inner = open_request(hop.blob, berlin, b_key)
            answer = seal_reply(inner, a_pub, 200, "application/json", b"{}")
            stranger = X25519PrivateKey.generate().public_key().public_bytes_raw()
            other = seal_reply(inner, stranger, 200, "text/plain", b"x")
            assert await at_a.take_replies(pack_hops([other, answer])) == 1
            assert waiting.result(0) == (200, "application/json", b"{}")
            await at_a.close()
            await at_b.close()

        asyncio.run(run())
