"""Routes of federation trust: the C2SP witness endpoint, directory lookups and the
directory log for monitors, and what members read of fork alarms.

- ``POST /fed/v1/witness/add-checkpoint`` -- C2SP tlog-witness, for the logs of this
  node's peers. As the spec says, no authentication beyond the checkpoint's signature
  by a log key the witness knows (unknown logs get 404).
- ``GET /fed/v1/directory/lookup?member=ID`` -- a member's directory entries with
  inclusion proofs and a checkpoint carrying k cosignatures (public: keys are public).
- ``GET /fed/v1/directory/log?start=N`` -- the directory log's leaves from N up to its
  newest k-cosigned checkpoint, for members' monitors.
- ``GET /fed/v1/log/proof?index=N`` -- entry N of this node's log under its newest
  checkpoint with k cosignatures, and its inclusion proof (peers only: node-signed).
- ``GET /api/v1/directory/lookup/{member}`` -- for clients and gateways: the member's
  lookup at its home node (this node's, or the home peer's as it answered).
- ``POST /api/v1/directory/entries`` -- a member's own signed entry (admin scope).
- ``POST /api/v1/directory/take`` -- the caller, moved here, hosted here (admin scope).
- ``GET /api/v1/federation/trust`` -- k, witnessed sizes, fork alarms (any member).
- ``GET /api/v1/federation/alarms/stream`` -- SSE: one ``fork`` event per alarm, its id
  the alarm's place; resumable with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from vigil import params
from vigil.directory.answers import answer_lookup, answer_range
from vigil.errors import InputError
from vigil.federation.trust import TrustService, trust_of
from vigil.web.deps import ActorDep, StateDep, number, read_body
from vigil.web.federation import authenticate, service
from vigil.witness.wire import MAX_REQUEST_BYTES

router = APIRouter(tags=["federation"])
PREFIX = "/fed/v1"


def _trust(request: Request) -> TrustService:
    return trust_of(request.app.state)


def _json(obj: Any) -> Response:
    return Response(orjson.dumps(obj), media_type="application/json")


@router.post(f"{PREFIX}/witness/add-checkpoint")
async def add_checkpoint(st: StateDep, request: Request) -> Response:
    """C2SP tlog-witness add-checkpoint for a peer's log; the cosignature lines."""
    trust = _trust(request)
    body = await read_body(request, MAX_REQUEST_BYTES)
    got = await asyncio.to_thread(trust.witness.add_checkpoint, body)
    return Response(got.body, status_code=got.status, media_type=got.content_type)


@router.get(f"{PREFIX}/directory/lookup")
async def lookup(st: StateDep, request: Request, member: Annotated[str, Query(max_length=80)]
                 ) -> Response:
    """A member's directory entries, proven against a checkpoint with k cosignatures."""
    trust = _trust(request)
    return _json(await asyncio.to_thread(answer_lookup, trust.directory, trust.collector,
                                         member, trust.k()))


@router.get(f"{PREFIX}/log/proof")
async def log_proof(
    st: StateDep, request: Request,
    index: Annotated[int, Query(ge=0), number("index")],
) -> Response:
    """Entry ``index`` of this node's log, proven under a k-cosigned checkpoint, for a
    peer that received the share to hand on to its members' clients. Node-signed like
    the other peer routes: the log's size is no one else's business."""
    trust = _trust(request)
    await authenticate(request, service(request), b"")
    return _json(await asyncio.to_thread(trust.log_proof, index))


@router.get("/api/v1/directory/lookup/{member}")
async def member_lookup(st: StateDep, actor: ActorDep, request: Request, member: str
                        ) -> Response:
    """A member's directory lookup at its home node (here, or fetched from the home
    peer), ``{home, answer}``, for clients and gateways to check against the witnesses
    they pinned; this node's word adds nothing to it."""
    trust = _trust(request)
    return _json(await asyncio.to_thread(trust.member_lookup, member))


@router.get(f"{PREFIX}/directory/log")
async def directory_log(
    st: StateDep, request: Request,
    start: Annotated[int, Query(ge=0), number("start")] = 0,
) -> Response:
    """The directory log's leaves from ``start``, with its newest k-cosigned checkpoint."""
    trust = _trust(request)
    return _json(await asyncio.to_thread(answer_range, trust.directory, trust.collector,
                                         start, trust.k()))


@router.post("/api/v1/directory/entries")
async def submit_entry(st: StateDep, actor: ActorDep, request: Request) -> Response:
    """The caller's own directory entry, signed by it (rotation by the old key,
    recovery, revocation, move): countersigned and appended if it extends its chain."""
    trust = _trust(request)
    body = await read_body(request, 64 * 1024)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InputError("a JSON object {entry, sig}", code="dir.bad_entry") from None
    if not isinstance(doc, dict):
        raise InputError("a JSON object {entry, sig}", code="dir.bad_entry")
    index = await asyncio.to_thread(trust.submit_entry, actor.member, doc)
    return Response(orjson.dumps({"index": index}), status_code=201,
                    media_type="application/json")


@router.post("/api/v1/directory/take")
async def take(st: StateDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    """The caller, a member that moved here (its signed move at its old home), is
    hosted here from now on: the old home's lookup is fetched and must prove the move
    with the keys this node holds (``dir.not_moved`` otherwise). One transaction."""
    trust = _trust(request)
    old = await asyncio.to_thread(trust.take, actor.member)
    return {"member": actor.member, "from": old}


@router.get("/api/v1/federation/trust")
async def trust_status(st: StateDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    """k, this node's logs and how far they are witnessed, fork alarms, the roster."""
    trust = _trust(request)
    out: dict[str, Any] = await asyncio.to_thread(trust.status)
    out["witnesses"] = [{"name": n, "key": k.hex()} for n, k in trust.witnesses().items()]
    return out


@router.get("/api/v1/federation/witnessed/{share_id}")
async def witnessed(st: StateDep, actor: ActorDep, request: Request,
                    share_id: str) -> dict[str, Any]:
    """Is this share witnessed (k witnesses of other nodes hold its log entry), and was
    it signed by a key revoked at its index? 404 for a share the caller may not read."""
    trust = _trust(request)
    out: dict[str, Any] = await asyncio.to_thread(trust.witnessed, actor.member, share_id)
    return out


@router.get("/api/v1/federation/alarms/stream")
async def alarm_stream(
    st: StateDep, actor: ActorDep, request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: ``event: fork`` with the alarm (node, evidence, status)."""
    trust = _trust(request)
    start = params.cursor(last_event_id, "Last-Event-ID") if last_event_id else 0

    async def events() -> AsyncIterator[bytes]:
        sent = start
        while not await request.is_disconnected():
            alarms = await asyncio.to_thread(trust.alarms.all)
            for i, alarm in enumerate(alarms[sent:], start=sent + 1):
                yield (f"id: {i}\nevent: fork\ndata: ".encode()
                       + orjson.dumps(alarm.to_json()) + b"\n\n")
            sent = max(sent, len(alarms))
            yield b": keep-alive\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache"})
