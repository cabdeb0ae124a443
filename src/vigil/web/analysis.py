"""REST API of collective analysis: correlation notices (polled and pushed), search,
warninglists."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from vigil import params as parse
from vigil.analysis.correlate import correlator
from vigil.analysis.correlation_reads import wide
from vigil.analysis.warninglists import MAX_LIST_BYTES, add_member_list, remove_member_list
from vigil.errors import InputError, NotFound, VigilError
from vigil.web import errors, scopes
from vigil.web.auth import credential
from vigil.web.deps import ActorDep, State, StateDep, number, read_body
from vigil.web.stream import SseResponse, cursor_of

router = APIRouter()
SEARCH_PATH = "/api/v1/search"
CORRELATIONS_PATH = "/api/v1/correlations"
NOTICE_BELL = "correlations:"  # the bus doorbell of a member's notice stream, + member id
NOTICE_PAGE = 100
MAX_QUERY = 4096  # characters of a search query


def notice_bell(member: str) -> str:
    return NOTICE_BELL + member


class NoticeStream(SseResponse):
    """A member's correlation notices after a cursor, then each new one as a pass finds
    it: the server rings ``notice_bell(member)`` for every member that got a
    correlation row, and the stream reads the member's notices after its cursor, which
    applies the policy at that moment as ``GET /correlations`` does."""

    def _bell(self) -> str:
        return notice_bell(self.member)

    async def _chunk(self) -> tuple[bytes, bool]:
        st = self.state
        notices, cursor = await st.analysis_read(correlator(st.exchange).notices,
                                                 self.member, self.cursor, NOTICE_PAGE)
        body = b"".join(b"id: %d\nevent: correlation\ndata: %s\n\n" % (n["seq"], orjson.dumps(n))
                        for n in notices)
        moved = cursor != self.cursor  # (past rows the policy hides, too): read on
        self.cursor = cursor
        return body, moved


async def search_for(st: State, member: str, q: str, limit: int) -> dict[str, Any]:
    """A search; when it may be long -- an IP network (which may overlap many values:
    ``wide``) or a member whose own warninglists scan entries (regex, substring) -- in a
    thread after the member's earlier heavy requests (``State.heavy``), else as a short
    read (a URL too: the "/" in it makes no network)."""
    c = correlator(st.exchange)
    costly = wide(q) or (await st.read(c.member_lists.of, member)).costly
    found: dict[str, Any] = await (st.heavy(member, c.search, member, q, limit) if costly
                                   else st.analysis_read(c.search, member, q, limit))
    return found


async def search_fast_path(st: State, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve GET /api/v1/search without the framework's routing and validation (the
    same answers as the route below); see ``search_for``."""
    conn = HTTPConnection(scope)
    try:
        actor = await st.authenticate(conn)
        params = conn.query_params
        q = params.get("q", "")
        if not 1 <= len(q) <= MAX_QUERY:
            raise InputError(f"q must be 1-{MAX_QUERY} characters", code="input.query",
                             pointer="/q")
        limit = parse.limit(params.get("limit", "100"), 1000)
        result = await search_for(st, actor.member, q, limit)
        response: Response = Response(orjson.dumps(result), media_type="application/json")
    except VigilError as exc:
        response = errors.response(exc, SEARCH_PATH)
    await response(scope, receive, send)


async def notices_page(st: State, member: str, after: int, limit: int) -> Response:
    """A page of the member's correlation notices after a cursor, and the cursor to
    resume from."""
    notices, cursor = await st.analysis_read(correlator(st.exchange).notices, member,
                                             after, limit)
    return Response(orjson.dumps({"notices": notices, "next": cursor}),
                    media_type="application/json")


async def correlations_fast_path(st: State, scope: Scope, receive: Receive,
                                 send: Send) -> None:
    """Serve GET /api/v1/correlations without the framework's routing and validation
    (the same answers as the route below, in the same order: the credential, its scope,
    ``after``, then ``limit``)."""
    conn = HTTPConnection(scope)
    try:
        actor = await st.authenticate(conn)
        scopes.require(actor, "GET", CORRELATIONS_PATH)
        params = conn.query_params
        after = parse.number(params.get("after", "0"), "after")
        limit = parse.limit(params.get("limit", "100"), 1000)
        response = await notices_page(st, actor.member, after, limit)
    except VigilError as exc:
        response = errors.response(exc, CORRELATIONS_PATH)
    await response(scope, receive, send)


@router.get("/correlations", tags=["analysis"])
async def correlations(
    st: StateDep,
    actor: ActorDep,
    after: Annotated[int, Query(ge=0, description="cursor: the last seq already read"),
                     number("after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000), number("limit", 1, 1000)] = 100,
) -> Response:
    """The caller's correlation notices after a cursor: for each, the caller's share and
    observable, and either the matching share (one the caller may read) or only the
    channel a member of which holds a match. Resume with `after=<next>`. (A GET is
    served by ``correlations_fast_path``; this route gives the API description.)"""
    return await notices_page(st, actor.member, after, limit)


@router.get("/correlations/stream", tags=["analysis"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def correlation_stream(
    request: Request,
    st: StateDep,
    actor: ActorDep,
    after: Annotated[int | None, Query(ge=0, description="start after this seq"),
                     number("after")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """Server-Sent Events: one `correlation` event per notice of the caller (the objects
    of `GET /correlations`), `id:` = its seq, pushed as soon as a correlation pass finds
    the match. A reconnecting client sends `Last-Event-ID` and receives what it missed."""
    return NoticeStream(st, actor.member,
                        cursor_of(last_event_id, after),
                        credential(request, st.exchange))


@router.get("/search", tags=["analysis"])
async def search(
    st: StateDep,
    actor: ActorDep,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY,
                            description="an observable: IP address or network, domain, URL, "
                                        "e-mail, hash, ASN, wallet, or kind:value")],
    limit: Annotated[int, Query(ge=1, le=1000), number("limit", 1, 1000)] = 100,
) -> Response:
    """Shares the caller may read that hold this observable (normalised; IP addresses
    and networks match by overlap), newest first, with the warninglists naming it."""
    result = await search_for(st, actor.member, q, limit)
    return Response(orjson.dumps(result), media_type="application/json")


@router.get("/warninglists", tags=["analysis"])
async def warninglists(st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """The shipped warninglists (every correlation) and the caller's own (what it sees)."""
    c = correlator(st.exchange)
    own = await st.read(c.member_lists.of, actor.member)
    return {"shipped": [w.summary() for w in c.lists.lists],
            "own": [w.summary() for w in own.lists]}


@router.post("/warninglists", tags=["analysis"], status_code=201)
async def add_warninglist(request: Request, st: StateDep, actor: ActorDep) -> JSONResponse:
    """Add (or replace, by name) one of the caller's warninglists: a MISP warninglist
    JSON document."""
    raw = await read_body(request, MAX_LIST_BYTES)
    wl = await st.write(add_member_list, st.exchange.store, actor.member, raw)
    return JSONResponse(wl.summary(), status_code=201)


@router.delete("/warninglists/{name}", tags=["analysis"], status_code=204)
async def delete_warninglist(name: str, st: StateDep, actor: ActorDep) -> Response:
    """Remove one of the caller's own warninglists."""
    if not await st.write(remove_member_list, st.exchange.store, actor.member, name):
        raise NotFound(f"no warninglist {name!r} of yours", code="warninglist.not_found")
    return Response(status_code=204)
