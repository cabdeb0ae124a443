"""Node-to-node routes (``/fed/v1``) and the node descriptor.

These routes take no member token: a request is authenticated by its ``Vigil-Node``
signature, made by the node key of a peer this node's operator added (vigil.web.scopes
lists them as node routes), and, over this node's TLS, by the connection's client
certificate, whose key must be the TLS key pinned for that peer (vigil.federation.tls).
They answer 404 ``fed.off`` on a node that does not federate and 503 ``fed.not_durable``
on one whose store does not fsync before it acks.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from vigil import clock
from vigil.errors import AuthError, InputError, NotFound, VigilError
from vigil.federation import codec, receiver, status
from vigil.federation.batches import BATCH, build_batch
from vigil.federation.descriptor import WELL_KNOWN, descriptor
from vigil.federation.peers import Peer, peer_by_node, stored_descriptor
from vigil.federation.relaying import Relaying
from vigil.federation.sender import Service
from vigil.federation.tls import check_client_key
from vigil.relay.hop import HEADER as HOP_HEADER
from vigil.relay.hop import MAX_BUCKET, Hop
from vigil.storage import federation as q
from vigil.storage.base import Sql
from vigil.web.deps import ActorDep, StateDep, number, read_body
from vigil.web.scopes import FED

router = APIRouter(tags=["federation"])
MAX_REPLIES = 8 * MAX_BUCKET  # one batch of answers a relay passes on
PREFIX = FED  # every route under it is in scopes.NODE_ROUTES


def service(request: Request) -> Service:
    svc: Service | None = getattr(request.app.state, "federation", None)
    if svc is None:
        raise NotFound("this node does not federate", code="fed.off")
    if svc.refused is not None:
        raise svc.refused
    return svc


async def authenticate(request: Request, svc: Service, body: bytes) -> Peer:
    fields = codec.parse_request_header(request.headers.get(codec.HEADER))
    ex = svc.ex
    peer = await asyncio.to_thread(ex.store.read, lambda sql: peer_by_node(sql, fields["origin"]))
    if peer is None:
        raise AuthError("not a peer of this node", code="fed.unknown_peer", status=403)
    check_client_key(request.scope, peer)  # over TLS: the key pinned for that peer
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    codec.check_request(fields, request.method, path, body, ex.node_id, peer.key)
    return peer


async def from_peer(request: Request, limit: int) -> tuple[Service, Peer, bytes]:
    """A peer's signed request: this node's federation service, the peer, and the body
    (at most ``limit`` bytes), its ``Vigil-Node`` signature checked."""
    svc = service(request)
    body = await read_body(request, limit)
    return svc, await authenticate(request, svc, body), body


def _json(obj: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status_code,
                    media_type="application/json")


@router.get(WELL_KNOWN)
async def well_known(st: StateDep, request: Request) -> Response:
    """This node's signed descriptor (public)."""
    service(request)
    return _json(descriptor(st.exchange, st.settings))


@router.post(f"{PREFIX}/batch")
async def batch(st: StateDep, request: Request) -> Response:
    """Push: a signed batch from a peer; the signed ack with this node's cursor."""
    svc, peer, body = await from_peer(request, st.exchange.max_body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise InputError("a batch is a JSON object", code="fed.bad_batch")
    try:
        got = await receiver.receive_in_turn(svc.ex, peer, data)
    except VigilError as e:
        if e.code == "fed.gap":  # what comes before it is missing here: pull it now
            svc.want_pull(peer.node)
        raise
    await svc.ring(got.ring)
    return _json(got.ack)


@router.post(f"{PREFIX}/heartbeat")
async def heartbeat(st: StateDep, request: Request) -> Response:
    """A peer's heartbeat: its head for this node; answers this node's cursor."""
    svc, peer, body = await from_peer(request, 64 * 1024)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise VigilError("malformed heartbeat", code="fed.bad_item", status=400) from None
    got = await asyncio.to_thread(receiver.heartbeat, svc.ex, peer, data)
    svc.heard(peer.node)
    if got["head"] > got["cursor"] and not receiver.receiving(svc.ex, peer.node):
        svc.want_pull(peer.node)  # (a push being stored now brings the same items)
    return _json(got)


@router.get(f"{PREFIX}/outbox")
async def pull(
    st: StateDep,
    request: Request,
    after: Annotated[int, Query(ge=0), number("after")] = 0,
    limit: Annotated[int, Query(ge=1, le=BATCH), number("limit", 1, BATCH)] = BATCH,
) -> Response:
    """Pull: the signed batch of this node's outbox for the caller after its cursor."""
    svc = service(request)
    peer = await authenticate(request, svc, b"")

    def caught_up(sql: Sql) -> None:  # the caller holds everything up to its cursor
        head, acked, *_ = q.link(sql, peer.node)
        if acked < after <= head:
            q.set_acked(sql, peer.node, after, clock.now())

    await asyncio.to_thread(svc.ex.store.write, caught_up)
    got = await asyncio.to_thread(build_batch, svc.ex, peer.node, after, limit)
    return _json(svc.tamper(peer.node, got))


def relaying(request: Request) -> Relaying:
    got: Relaying | None = getattr(request.app.state, "relaying", None)
    if got is None:
        raise NotFound("this node does not federate", code="fed.off")
    return got


@router.post(f"{PREFIX}/relay")
async def relay(st: StateDep, request: Request) -> Response:
    """Relay: a peer's sealed hop for another peer, passed on; the sealed answer."""
    _, _, body = await from_peer(request, MAX_BUCKET)
    hop = Hop.from_header(request.headers.get(HOP_HEADER), body)
    status_code, ctype, content = await relaying(request).pass_on(hop)
    return Response(content, status_code=status_code, media_type=ctype)


@router.get(f"{PREFIX}/relay/descriptor")
async def relay_descriptor(st: StateDep, request: Request,
                           pin: Annotated[str, Query(max_length=80)]) -> Response:
    """Relay: the signed descriptor of a peer (by its pin) for a peer that cannot fetch
    it from that node; the asker checks it against the pin."""
    svc = service(request)
    await authenticate(request, svc, b"")
    return _json(await asyncio.to_thread(stored_descriptor, svc.ex, pin))


@router.post(f"{PREFIX}/hop")
async def hop(st: StateDep, request: Request) -> Response:
    """A hop sealed to this node, from its relay: 202, then the request inside is served
    by these routes; its answer, sealed to the origin, goes back through the relay in
    the next batch of answers."""
    _, caller, body = await from_peer(request, MAX_BUCKET)
    await relaying(request).take(request.app, body, caller.node)
    return Response(status_code=202)


@router.post(f"{PREFIX}/relay/replies")
async def relay_replies(st: StateDep, request: Request) -> Response:
    """Relay: a destination's batch of answers, passed on to their origins."""
    _, _, body = await from_peer(request, MAX_REPLIES)
    await relaying(request).pass_replies(body)
    return Response(status_code=204)


@router.post(f"{PREFIX}/hop/replies")
async def hop_replies(st: StateDep, request: Request) -> Response:
    """From a relay: answers sealed to this node, each handed to its waiting request."""
    _, _, body = await from_peer(request, MAX_REPLIES)
    await relaying(request).take_replies(body)
    return Response(status_code=204)


@router.get("/api/v1/federation/status")
async def fed_status(st: StateDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    """Per peer: link state, cursors, backlog, lag, last heartbeat, quarantined items."""
    svc = service(request)
    return await asyncio.to_thread(status.status, svc.ex, svc)
