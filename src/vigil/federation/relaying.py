"""A node as a relay between two of its peers, and as the destination of relayed hops.

As relay (``POST /fed/v1/relay``, from a peer): the hop's outer header is checked and
kept as one row, ``(hop id, destination, bucket, time)`` (:class:`vigil.relay.forward.
Relay`), and the sealed blob is posted to the destination's ``/fed/v1/hop``, signed by
this node; the destination's sealed answer goes back as it came. Nothing else of the
hop is read, written or logged; rows older than a hop's lifetime are dropped hourly.

As destination (``POST /fed/v1/hop``, from the relay, a peer): the hop is opened with
this node's hop key, the request inside is served by this node's own ``/fed/v1`` routes
exactly as if it had come straight (its ``Vigil-Node`` signature checked there), and the
answer is sealed to the origin's hop key, padded to a bucket.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from vigil import clock
from vigil.crypto.kem import EncPrivate
from vigil.errors import CryptoError, PolicyDenied, Unavailable
from vigil.federation import codec
from vigil.federation.peers import Peer, peer_by_node, peers
from vigil.federation.transport import HOP_PATH, OCTETS, RELAY_PATH, direct_async
from vigil.node.exchange import Exchange
from vigil.relay.forward import Relay
from vigil.relay.hop import HOP_TTL, Hop, is_bucket
from vigil.relay.tunnel import open_request, seal_reply

FED = "/fed/v1"
# what a relayed request may ask of the destination: its node routes, not the relay's
NOT_RELAYED = frozenset({FED + RELAY_PATH, FED + HOP_PATH, FED + RELAY_PATH + "/descriptor"})
INNER_BASE = "http://relayed"
FORGET_EVERY = 3600.0  # seconds between sweeps of hop rows past any hop's lifetime

__all__ = ["Relaying"]


class Relaying:
    """This node's relay and its side of relayed hops (one per app)."""

    def __init__(self, ex: Exchange, hop_key: EncPrivate, timeout: float = 30.0,
                 tls_pair: tuple[str, str] | None = None) -> None:
        self.ex = ex
        self.hop_key = hop_key
        self.tls_pair = tls_pair  # this node's client certificate to the destinations
        self.timeout = timeout
        self.relay = Relay(ex.store, self._direct_peers)
        self._clients: dict[str, tuple[Peer, httpx.AsyncClient]] = {}
        self._swept = float("-inf")

    def _direct_peers(self) -> set[str]:
        return {p.node for p in peers(self.ex.store) if p.via is None}

    async def _client(self, dest: Peer) -> httpx.AsyncClient:
        held = self._clients.get(dest.node)
        if held is not None and held[0] == dest:
            return held[1]
        if held is not None:
            await held[1].aclose()
        client = direct_async(dest, self.timeout, self.tls_pair)
        self._clients[dest.node] = (dest, client)
        return client

    # -- as relay ------------------------------------------------------------------------
    async def pass_on(self, hop: Hop) -> tuple[int, str, bytes]:
        """Forward a peer's hop to its destination; (status, content type, body) of the
        destination's answer (a sealed blob when 200)."""
        if not await asyncio.to_thread(self.relay.admit, hop):
            raise CryptoError("a hop id seen before", code="relay.bad_hop")
        if time.monotonic() - self._swept > FORGET_EVERY:
            # a row older than a hop lives stops no replay: its hop has expired
            self._swept = time.monotonic()
            await asyncio.to_thread(self.relay.forget,
                                    clock.fmt(datetime.now(UTC) - HOP_TTL))
        dest = await asyncio.to_thread(self.ex.store.read,
                                       lambda sql: peer_by_node(sql, hop.dest))
        if dest is None or dest.via is not None:
            raise PolicyDenied("this relay does not reach that node", code="relay.no_route")
        url = httpx.URL(dest.url + HOP_PATH)
        signed = codec.sign_request(self.ex.node_key, "POST", url.raw_path.decode(),
                                    self.ex.node_id, dest.node, hop.blob)
        client = await self._client(dest)
        try:
            r = await client.post(url, content=hop.blob,
                                  headers={codec.HEADER: signed, "content-type": OCTETS})
        except httpx.HTTPError:
            raise Unavailable(f"the relay cannot reach {dest.name} now",
                              code="fed.unreachable") from None
        if r.status_code == 200 and not is_bucket(len(r.content)):
            raise Unavailable(f"{dest.name} answered a hop with no sealed bucket",
                              code="fed.unreachable")
        return r.status_code, r.headers.get("content-type", OCTETS), r.content

    # -- as destination ------------------------------------------------------------------
    async def answer(self, app: Any, blob: bytes) -> bytes:
        """Serve the request inside a hop sealed to this node; the sealed answer."""
        inner = await asyncio.to_thread(open_request, blob, self.ex.node_id, self.hop_key)
        url = httpx.URL(INNER_BASE + inner.path)  # the path as it will be routed
        if url.host != httpx.URL(INNER_BASE).host or not url.path.startswith(FED + "/") \
                or url.path in NOT_RELAYED or ".." in url.path.split("/") \
                or "%2f" in url.raw_path.decode().lower():
            raise CryptoError("a relayed request for no node route", code="relay.bad_hop")
        origin = await asyncio.to_thread(self.ex.store.read,
                                         lambda sql: peer_by_node(sql, inner.origin))
        if origin is None:
            raise PolicyDenied("not a peer of this node", code="fed.unknown_peer")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=INNER_BASE, timeout=self.timeout) as local:
            r = await local.request(inner.method, url, content=inner.body,
                                    headers=inner.headers)
        return await asyncio.to_thread(seal_reply, inner, origin.hop_key, r.status_code,
                                       r.headers.get("content-type", "application/json"),
                                       r.content)

    async def close(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
