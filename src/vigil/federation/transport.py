"""How this node's requests reach a peer: straight to its address, or through a relay.

A peer added with ``via`` (``vigil peer add --via``) is one this node does not reach: an
HTTP client for it gets a transport that seals every request to the peer's hop key
(:mod:`vigil.relay.tunnel`), posts the sealed blob to the relay's ``/fed/v1/relay`` with
the outer header ``Vigil-Hop: dest, hop_id, expires`` (signed by this node for the
relay, which serves its peers only). The relay answers 202 once the destination took
the hop; the sealed answer comes back later, in the destination's next batch of answers
through the relay (:mod:`vigil.relay.replies`), and is opened here. The code above the
transport -- pushes, heartbeats, pulls, witness submissions, directory lookups -- sends
the same signed requests either way and reads the same answers. Over HTTPS the node
presents its own TLS pair as client certificate on every connection it opens (to the
peer, or to the relay), whose key its peers pinned (vigil.federation.tls).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import Future

import httpx

from vigil.client.tls import transports
from vigil.crypto.kem import EncPrivate
from vigil.errors import PolicyDenied
from vigil.federation import codec
from vigil.federation.peers import Peer, peer
from vigil.node.exchange import Exchange
from vigil.relay import hop as hops
from vigil.relay.replies import Answer, Replies
from vigil.relay.tunnel import seal_request

CONNECT = 3.0  # seconds to connect (TCP and TLS) before a try counts as failed
RELAY_PATH = "/relay"  # under the relay's fed endpoint
HOP_PATH = "/hop"  # under the destination's fed endpoint
RELAY_REPLIES = "/relay/replies"  # under the relay's: a batch of answers to pass on
HOP_REPLIES = "/hop/replies"  # under the origin's: a batch of answers sealed to it
OCTETS = "application/octet-stream"
Pair = tuple[str, str] | None  # this node's TLS (cert, key), its client certificate

__all__ = ["async_client", "direct_async", "direct_sync", "sync_client"]


def _timeout(timeout: float) -> httpx.Timeout:
    return httpx.Timeout(timeout, connect=min(timeout, CONNECT))


def direct_async(peer: Peer, timeout: float = 30.0, pair: Pair = None) -> httpx.AsyncClient:
    """An async client to ``peer``'s own address, pinned to its TLS key if it has one,
    presenting this node's TLS ``pair`` (cert, key) as its client certificate."""
    limits = _timeout(timeout)
    if peer.url.startswith("https"):
        if peer.tls_pin:
            return httpx.AsyncClient(transport=_pinned(peer.tls_pin, pair)[1], timeout=limits)
        return httpx.AsyncClient(verify=False, timeout=limits)  # node signatures only
    return httpx.AsyncClient(timeout=limits)


def direct_sync(peer: Peer, timeout: float, pair: Pair = None) -> httpx.Client:
    """A sync client to ``peer``'s own address, pinned to its TLS key if it has one,
    presenting this node's TLS ``pair`` (cert, key) as its client certificate."""
    if peer.url.startswith("https"):
        if peer.tls_pin:
            return httpx.Client(transport=_pinned(peer.tls_pin, pair)[0], timeout=timeout)
        return httpx.Client(verify=False, timeout=timeout)  # what it answers is signed
    return httpx.Client(timeout=timeout)


def _pinned(pin: str, pair: Pair) -> tuple[httpx.HTTPTransport, httpx.AsyncHTTPTransport]:
    cert, key = pair if pair is not None else (None, None)
    return transports(cert=cert, key=key, pin=pin)


class _Tunnel:
    """What both transports share: the relay of a peer, sealing and opening."""

    def __init__(self, ex: Exchange, hop_key: EncPrivate, dest: Peer, pair: Pair = None
                 ) -> None:
        if dest.via is None:
            raise PolicyDenied("this peer is reached directly", code="relay.no_route")
        self.ex = ex
        self.pair = pair  # presented to the relay
        self.hop_key = hop_key
        self.dest = dest
        self.via = dest.via

    def relay(self) -> Peer:
        got = peer(self.ex.store, self.via)
        if got.via is not None:
            raise PolicyDenied("a relay is a peer this node reaches directly",
                               code="relay.no_route")
        return got

    def seal(self, relay: Peer, request: httpx.Request, body: bytes
             ) -> tuple[httpx.URL, bytes, dict[str, str], str]:
        """(relay URL, blob, outer headers, nonce) for ``request``."""
        hop, nonce = seal_request(self.ex.node_id, self.dest.node, self.dest.hop_key,
                                  request.method, request.url.raw_path.decode(),
                                  {k.lower(): v for k, v in request.headers.items()}, body)
        url = httpx.URL(relay.url + RELAY_PATH)
        signed = codec.sign_request(self.ex.node_key, "POST", url.raw_path.decode(),
                                    self.ex.node_id, relay.node, hop.blob)
        return url, hop.blob, {codec.HEADER: signed, hops.HEADER: hop.header_value(),
                               "content-type": OCTETS}, nonce

    @contextlib.contextmanager
    def waiting(self, request: httpx.Request, nonce: str) -> Iterator[Future[Answer]]:
        """The answer to the request sealed with ``nonce``, while the block posts it and
        waits; a wait that times out (``TimeoutError``, sync or async) is a read timeout
        of ``request``. Its waiting ends with the block."""
        replies = self.ex.attach(Replies, Replies)[0]
        got = replies.expect(nonce)
        try:
            yield got
        except TimeoutError:
            raise httpx.ReadTimeout("no answer came back through the relay",
                                    request=request) from None
        finally:
            replies.forget(nonce)

    @staticmethod
    def refused(request: httpx.Request, r: httpx.Response) -> httpx.Response:
        """The relay's (or the destination's) refusal of the hop, as is."""
        return httpx.Response(r.status_code, content=r.content, request=request,
                              headers={"content-type": r.headers.get("content-type",
                                                                     "application/json")})

    @staticmethod
    def answer(request: httpx.Request, got: Answer) -> httpx.Response:
        status, ctype, body = got
        return httpx.Response(status, content=body, headers={"content-type": ctype},
                              request=request)


class AsyncRelayTransport(httpx.AsyncBaseTransport):
    def __init__(self, tunnel: _Tunnel, timeout: float) -> None:
        self.tunnel = tunnel
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._relay: Peer | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        relay = await asyncio.to_thread(self.tunnel.relay)
        if self._client is None or self._relay != relay:
            if self._client is not None:
                await self._client.aclose()
            self._client, self._relay = direct_async(relay, self.timeout,
                                                          self.tunnel.pair), relay
        url, blob, headers, nonce = await asyncio.to_thread(self.tunnel.seal, relay,
                                                            request, body)
        with self.tunnel.waiting(request, nonce) as waiting:
            r = await self._client.post(url, content=blob, headers=headers)
            if r.status_code != 202:
                return self.tunnel.refused(request, r)
            got = await asyncio.wait_for(asyncio.wrap_future(waiting), self.timeout)
        return self.tunnel.answer(request, got)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class SyncRelayTransport(httpx.BaseTransport):
    def __init__(self, tunnel: _Tunnel, timeout: float) -> None:
        self.tunnel = tunnel
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._relay: Peer | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        relay = self.tunnel.relay()
        if self._client is None or self._relay != relay:
            if self._client is not None:
                self._client.close()
            self._client, self._relay = direct_sync(relay, self.timeout,
                                                         self.tunnel.pair), relay
        url, blob, headers, nonce = self.tunnel.seal(relay, request, body)
        with self.tunnel.waiting(request, nonce) as waiting:
            r = self._client.post(url, content=blob, headers=headers)
            if r.status_code != 202:
                return self.tunnel.refused(request, r)
            got = waiting.result(self.timeout)  # concurrent.futures' TimeoutError is it
        return self.tunnel.answer(request, got)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def async_client(ex: Exchange, hop_key: EncPrivate, dest: Peer,
                 timeout: float = 30.0, pair: Pair = None) -> httpx.AsyncClient:
    """An async client for requests to ``dest``: direct, or through its relay (this
    node's hop key opens the answers); either way this node's TLS ``pair`` is its client
    certificate on the connection it opens."""
    if dest.via is None:
        return direct_async(dest, timeout, pair)
    transport = AsyncRelayTransport(_Tunnel(ex, hop_key, dest, pair), timeout)
    return httpx.AsyncClient(transport=transport, timeout=_timeout(timeout))


def sync_client(ex: Exchange, hop_key: EncPrivate, dest: Peer,
                timeout: float, pair: Pair = None) -> httpx.Client:
    """A sync client for requests to ``dest``: direct, or through its relay."""
    if dest.via is None:
        return direct_sync(dest, timeout, pair)
    return httpx.Client(transport=SyncRelayTransport(_Tunnel(ex, hop_key, dest, pair),
                                                      timeout),
                        timeout=_timeout(timeout))
