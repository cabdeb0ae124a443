"""The TAXII 2.1 server: discovery, one API root, collections, objects, manifest,
versions, status. Mounted at ``/taxii2/``; the member is always the authenticated one
(HTTP Basic with the token as password, or Bearer)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from vigil import clock
from vigil.errors import InputError, NotFound, PolicyDenied, VigilError
from vigil.model import Actor
from vigil.taxii.collections import Collection, Page, Source
from vigil.taxii.media import TAXII, check_accept, check_content_type
from vigil.taxii.query import FIELDS, Query, parse_query, show_time
from vigil.taxii.view import ExchangeSource, posted_objects
from vigil.web.deps import ActorDep, State, StateDep, read_body

PREFIX = "/taxii2"
API_ROOT = "api"
router = APIRouter(tags=["taxii"])


def source_of(request: Request, st: State) -> Source:
    """The collection source of this app: ``app.state.taxii_source`` if one was set (a
    gateway sets its own), else the node's exchange."""
    src: Source | None = getattr(request.app.state, "taxii_source", None)
    if src is None:
        src = ExchangeSource(st.exchange, title=f"vigil node {st.settings.node_name}")
        request.app.state.taxii_source = src
    return src


def taxii(body: Any, status: int = 200, headers: dict[str, str] | None = None,
          media_type: str = TAXII) -> Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(data, status_code=status, media_type=media_type, headers=headers)


def root_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + f"{PREFIX}/{API_ROOT}/"


async def _collection(request: Request, st: State, actor: Actor, cid: str) -> tuple[
        Source, Collection]:
    src = source_of(request, st)
    for c in await st.read(src.collections, actor):
        if c.id == cid or c.alias == cid:
            return src, c
    raise NotFound(f"no collection {cid!r}", code="taxii.collection_not_found")


async def _readable(request: Request, st: State, actor: Actor, cid: str, query: Query
                    ) -> tuple[Collection, Page]:
    src, c = await _collection(request, st, actor, cid)
    if not c.can_read:
        raise PolicyDenied("this collection is write-only", code="taxii.not_readable")
    return c, await st.heavy(actor.member, src.page, actor, c, query)


def _query(request: Request, allowed: tuple[str, ...] = FIELDS, object_id: str | None = None,
           default_version: str = "last") -> Query:
    q = parse_query(request.query_params.multi_items(), allowed=allowed,
                    default_version=default_version)
    return q.with_id(object_id) if object_id is not None else q


def _headers(page: Page) -> dict[str, str]:
    h = {}
    if page.items:
        h["X-TAXII-Date-Added-First"] = page.items[0].added
        h["X-TAXII-Date-Added-Last"] = page.items[-1].added
    if page.withheld:
        h["X-Vigil-Sealed-Withheld"] = str(page.withheld)
    return h


def _envelope(page: Page) -> bytes:
    head = b'{"more":' + (b"true" if page.more else b"false")
    if page.next is not None:
        head += b',"next":' + orjson.dumps(page.next.token())
    if not page.items:
        return head + b"}"
    return head + b',"objects":[' + b",".join(i.body for i in page.items) + b"]}"


@router.get("/")
async def discovery(request: Request, st: StateDep, actor: ActorDep) -> Response:
    """TAXII server discovery."""
    check_accept(request.headers.get("accept"))
    src = source_of(request, st)
    root = root_url(request)
    return taxii({"title": src.api_root_title(),
                  "description": "TAXII 2.1 over vigil: collections are policy-filtered "
                                 "views of the exchange.",
                  "default": root, "api_roots": [root]})


@router.get(f"/{API_ROOT}/")
async def api_root(request: Request, st: StateDep, actor: ActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    return taxii({"title": source_of(request, st).api_root_title(),
                  "versions": [TAXII], "max_content_length": int(st.settings.max_body)})


@router.get(f"/{API_ROOT}/collections/")
async def collections(request: Request, st: StateDep, actor: ActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    src = source_of(request, st)
    return taxii({"collections": [c.to_json() for c in await st.read(src.collections, actor)]})


@router.get(f"/{API_ROOT}/collections/{{cid}}/")
async def collection(cid: str, request: Request, st: StateDep, actor: ActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    _, c = await _collection(request, st, actor, cid)
    return taxii(c.to_json())


@router.get(f"/{API_ROOT}/collections/{{cid}}/objects/")
async def get_objects(cid: str, request: Request, st: StateDep, actor: ActorDep) -> Response:
    answer = check_accept(request.headers.get("accept"), objects=True)
    _, page = await _readable(request, st, actor, cid, _query(request))
    return taxii(_envelope(page), headers=_headers(page), media_type=answer)


@router.post(f"/{API_ROOT}/collections/{{cid}}/objects/")
async def add_objects(cid: str, request: Request, st: StateDep, actor: ActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    check_content_type(request.headers.get("content-type"))
    src, c = await _collection(request, st, actor, cid)
    if not c.can_write:
        raise PolicyDenied("this collection is read-only; POST to a publish-* collection",
                           code="taxii.not_writable")
    raw = await read_body(request, int(st.settings.max_body))
    requested = clock.now()

    def add() -> Any:
        objects = posted_objects(raw, int(st.settings.max_body))
        # the status resource is stored with the share, in its transaction
        return src.add(actor, c, objects, {
            "id": str(uuid.uuid4()), "status": "complete", "request_timestamp": requested,
            "total_count": len(objects)})

    added = await st.heavy(actor.member, add)
    if added.share_id is not None:
        await st.bus.ring((*added.recipients, actor.member))
    return taxii(added.status, status=202)


@router.get(f"/{API_ROOT}/collections/{{cid}}/objects/{{oid}}/")
async def get_object(cid: str, oid: str, request: Request, st: StateDep, actor: ActorDep
                     ) -> Response:
    answer = check_accept(request.headers.get("accept"), objects=True)
    q = _query(request, ("version", "spec_version"), _object_id(oid))
    _, page = await _readable(request, st, actor, cid, q)
    if not page.items and q.cursor is None:
        raise NotFound(f"no object {oid} in this collection", code="taxii.object_not_found")
    return taxii(_envelope(page), headers=_headers(page), media_type=answer)


@router.delete(f"/{API_ROOT}/collections/{{cid}}/objects/{{oid}}/")
async def delete_object(cid: str, oid: str, request: Request, st: StateDep, actor: ActorDep
                        ) -> Response:
    check_accept(request.headers.get("accept"))
    q = _query(request, ("version", "spec_version"), _object_id(oid), default_version="all")
    src, c = await _collection(request, st, actor, cid)
    await st.write(src.delete, actor, c, q)
    return taxii(b"{}")


@router.get(f"/{API_ROOT}/collections/{{cid}}/objects/{{oid}}/versions/")
async def versions(cid: str, oid: str, request: Request, st: StateDep, actor: ActorDep
                   ) -> Response:
    check_accept(request.headers.get("accept"))
    q = _query(request, ("spec_version",), _object_id(oid), default_version="all")
    _, page = await _readable(request, st, actor, cid, q)
    if not page.items and q.cursor is None:
        raise NotFound(f"no object {oid} in this collection", code="taxii.object_not_found")
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next.token()
    body["versions"] = [show_time(i.version) for i in page.items]
    return taxii(body, headers=_headers(page))


@router.get(f"/{API_ROOT}/collections/{{cid}}/manifest/")
async def manifest(cid: str, request: Request, st: StateDep, actor: ActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    _, page = await _readable(request, st, actor, cid, _query(request))
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next.token()
    if page.items:
        body["objects"] = [{"id": i.id, "date_added": i.added, "version": show_time(i.version),
                            "media_type": f"application/stix+json;version={i.spec_version}"}
                           for i in page.items]
    return taxii(body, headers=_headers(page))


@router.get(f"/{API_ROOT}/status/{{sid}}/")
async def status(sid: str, request: Request, st: StateDep, actor: ActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    body = await st.read(source_of(request, st).status, actor, sid)
    if body is None:
        raise NotFound(f"no status {sid!r}", code="taxii.status_not_found")
    return taxii(body)


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"],
                  include_in_schema=False)
async def unknown(rest: str, request: Request) -> Response:
    """Anything else under /taxii2/: a TAXII error body, 405 on a known path."""
    path = request.url.path.removeprefix(PREFIX)
    for route in router.routes:
        if isinstance(route, APIRoute) and route.endpoint is not unknown and \
                route.path_regex.match(path):
            raise VigilError(f"{request.method} is not allowed here",
                             code="taxii.method_not_allowed", status=405)
    raise NotFound(f"no TAXII endpoint at {request.url.path}", code="taxii.not_found")


def _object_id(oid: str) -> str:
    q = parse_query([("match[id]", oid)])
    if not q.ids:
        raise InputError(f"{oid!r} is not a STIX id", code="taxii.bad_object_id")
    return q.ids[0]
