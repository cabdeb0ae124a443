"""A node as a relay between two of its peers, and as the destination of relayed hops.

As relay (``POST /fed/v1/relay``, from a peer): the hop's outer header is checked and
kept as one row, ``(hop id, destination, bucket, time)`` (:class:`vigil.relay.forward.
Relay`), and the sealed blob is posted to the destination's ``/fed/v1/hop``, signed by
this node; the destination's 202 (it took the hop) or refusal goes back as it came.
Answers come later, as batches from the destination (``POST /fed/v1/relay/replies``):
each answer hop's row is kept the same way and the answers are posted on, one batch per
origin, to its ``/fed/v1/hop/replies``. Nothing else of a hop is read, written or
logged; rows older than a hop's lifetime are dropped hourly.

As destination (``POST /fed/v1/hop``, from the relay, a peer): the hop is opened with
this node's hop key and answered 202; the request inside is then served by this node's
own ``/fed/v1`` routes exactly as if it had come straight (its ``Vigil-Node`` signature
checked there), and the answer, sealed to the origin's hop key and padded to a bucket,
waits for the next tick of ``fed_receipt_period`` s (:class:`vigil.relay.receipts.
ReceiptBatcher`): then every answer waiting for a relay goes to it in one batch. The
answer never returns on the request's connection, so the relay cannot pair a request
with its answer by the connection or by the time it took.

As origin (``POST /fed/v1/hop/replies``, from the relay): each answer is opened with
this node's hop key and handed to the request waiting for it (:mod:`vigil.relay.
replies`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from vigil import clock
from vigil.crypto.kem import EncPrivate
from vigil.errors import CryptoError, PolicyDenied, Unavailable
from vigil.federation import codec
from vigil.federation.peers import Peer, peer_by_node, peers
from vigil.federation.transport import (
    HOP_PATH,
    HOP_REPLIES,
    OCTETS,
    RELAY_PATH,
    RELAY_REPLIES,
    direct_async,
)
from vigil.node.exchange import Exchange
from vigil.relay.forward import Relay
from vigil.relay.hop import HOP_TTL, Hop
from vigil.relay.receipts import ReceiptBatcher
from vigil.relay.replies import Replies
from vigil.relay.tunnel import (
    Inner,
    open_any_reply,
    open_request,
    pack_hops,
    seal_reply,
    unpack_hops,
)

FED = "/fed/v1"
# what a relayed request may ask of the destination: its node routes, not the relay's
NOT_RELAYED = frozenset({FED + RELAY_PATH, FED + HOP_PATH, FED + RELAY_PATH + "/descriptor",
                         FED + RELAY_REPLIES, FED + HOP_REPLIES})
INNER_BASE = "http://relayed"
FORGET_EVERY = 3600.0  # seconds between sweeps of hop rows past any hop's lifetime

__all__ = ["Relaying"]
log = logging.getLogger("vigil.relay")


class Relaying:
    """This node's relay and its side of relayed hops (one per app)."""

    def __init__(self, ex: Exchange, hop_key: EncPrivate, timeout: float = 30.0,
                 tls_pair: tuple[str, str] | None = None,
                 receipt_period: float = 1.0) -> None:
        self.ex = ex
        self.hop_key = hop_key
        self.tls_pair = tls_pair  # this node's client certificate to the destinations
        self.timeout = timeout
        self.receipts = ReceiptBatcher(receipt_period)
        self._ticker: asyncio.Task[None] | None = None
        self._serving: set[asyncio.Task[None]] = set()
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
        if r.status_code == 202:
            return 202, OCTETS, b""
        return r.status_code, r.headers.get("content-type", OCTETS), r.content

    async def pass_replies(self, body: bytes) -> None:
        """Pass on a destination's batch of answers: one batch to each origin."""
        hops = unpack_hops(body)
        by_dest: dict[str, list[Hop]] = {}
        for h in hops:
            if not await asyncio.to_thread(self.relay.admit, h):
                raise CryptoError("a hop id seen before", code="relay.bad_hop")
            by_dest.setdefault(h.dest, []).append(h)
        for node, batch in by_dest.items():
            dest = await asyncio.to_thread(self.ex.store.read,
                                           lambda sql, node=node: peer_by_node(sql, node))
            if dest is None or dest.via is not None:
                raise PolicyDenied("this relay does not reach that node",
                                   code="relay.no_route")
            r = await self._post(dest, HOP_REPLIES, pack_hops(batch))
            if r.status_code != 204:
                raise Unavailable(f"{dest.name} did not take its answers",
                                  code="fed.unreachable")

    async def _post(self, dest: Peer, path: str, body: bytes) -> httpx.Response:
        url = httpx.URL(dest.url + path)
        signed = codec.sign_request(self.ex.node_key, "POST", url.raw_path.decode(),
                                    self.ex.node_id, dest.node, body)
        client = await self._client(dest)
        try:
            return await client.post(url, content=body,
                                     headers={codec.HEADER: signed, "content-type": OCTETS})
        except httpx.HTTPError:
            raise Unavailable(f"cannot reach {dest.name} now",
                              code="fed.unreachable") from None

    # -- as destination ------------------------------------------------------------------
    async def take(self, app: Any, blob: bytes, relay: str) -> None:
        """Open a hop sealed to this node (refused at once if it does not open or asks
        for no node route), then serve it in the background; its answer waits for the
        next tick to go back through ``relay`` with the others."""
        inner, origin = await self._open(blob)

        async def serve() -> None:
            try:
                hop = await self._serve(app, inner, origin)
            except Exception:
                log.exception("a relayed request failed")
                return
            self.receipts.add(relay, {"hop": hop})
        task = asyncio.create_task(serve())
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _open(self, blob: bytes) -> tuple[Inner, Peer]:
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
        return inner, origin

    async def _serve(self, app: Any, inner: Inner, origin: Peer) -> Hop:
        url = httpx.URL(INNER_BASE + inner.path)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url=INNER_BASE, timeout=self.timeout) as local:
            r = await local.request(inner.method, url, content=inner.body,
                                    headers=inner.headers)
        return await asyncio.to_thread(seal_reply, inner, origin.hop_key, r.status_code,
                                       r.headers.get("content-type", "application/json"),
                                       r.content)

    # -- answers, at ticks -------------------------------------------------------------
    async def start(self) -> None:
        self._ticker = asyncio.create_task(self._ticks(), name="vigil-relay-receipts")

    async def _ticks(self) -> None:
        period = self.receipts.period
        while True:
            await asyncio.sleep(period - time.time() % period + 0.001)
            for relay, items in self.receipts.due().items():
                try:
                    await self._send_answers(relay, [i["hop"] for i in items])
                except Exception as e:  # the origin asks again: its request timed out
                    log.warning("answers to relay %s not sent: %s", relay, e)

    async def _send_answers(self, relay: str, hops: list[Hop]) -> None:
        peer = await asyncio.to_thread(self.ex.store.read,
                                       lambda sql: peer_by_node(sql, relay))
        if peer is None or peer.via is not None:
            return
        r = await self._post(peer, RELAY_REPLIES, pack_hops(hops))
        if r.status_code != 204:
            raise Unavailable(f"{peer.name} refused answers: {r.status_code}",
                              code="fed.unreachable")

    async def take_replies(self, body: bytes) -> int:
        """As origin: open each answer of a relay's batch and hand it to its request;
        how many found one. Opened on the event loop, not in a worker thread: a sync
        request waiting for its answer may hold every worker."""
        def run() -> int:
            replies = self.ex.attach(Replies, Replies)[0]
            found = 0
            for h in unpack_hops(body):
                if h.dest != self.ex.node_id:
                    continue
                try:
                    nonce, status, ctype, content = open_any_reply(h.blob, self.ex.node_id,
                                                                   self.hop_key)
                except CryptoError:
                    continue
                found += replies.deliver(nonce, (status, ctype, content))
            return found
        return run()

    async def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for task in list(self._serving):
            task.cancel()
        for _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
