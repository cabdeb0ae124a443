"""The TAXII 2.1 server: discovery, one API root, collections, objects, manifest,
versions, status. Mounted at ``/taxii2/``; the member is always the authenticated one
(HTTP Basic with the token as password, or Bearer)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Annotated, Any, Protocol, TypeVar

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute

from vigil import clock
from vigil.errors import InputError, NotFound, PolicyDenied, VigilError
from vigil.model import Actor
from vigil.taxii.collections import Collection, Page, Source
from vigil.taxii.media import TAXII, check_accept, check_content_type
from vigil.taxii.posted import posted_objects
from vigil.taxii.query import FIELDS, Query, parse_query, show_time
from vigil.taxii.view import ExchangeSource
from vigil.web.deps import State, actor_of, read_body

PREFIX = "/taxii2"
API_ROOT = "api"
router = APIRouter(tags=["taxii"])
T = TypeVar("T")


class Host(Protocol):
    """What the TAXII routes serve: a node (``NodeHost``, over the web app's ``State``) or
    a member's gateway (``vigil.gateway.GatewayHost``). An app that includes ``router``
    sets ``app.state.taxii`` to its host before it serves."""

    @property
    def source(self) -> Source: ...
    @property
    def max_body(self) -> int: ...

    async def actor(self, request: Request) -> Actor:
        """The authenticated caller of a request (raises AuthError)."""
        ...

    async def read(self, fn: Callable[..., T], *args: Any) -> T: ...
    async def write(self, fn: Callable[..., T], *args: Any) -> T: ...
    async def heavy(self, member: str, fn: Callable[..., T], *args: Any) -> T: ...

    async def ring(self, members: Iterable[str]) -> None:
        """Wake the streams of these members (a share was added)."""
        ...


class NodeHost:
    """The node's TAXII: the collections of its exchange, its members' tokens and their
    scopes (``actor_of``), its bus."""

    def __init__(self, st: State) -> None:
        self.st = st

    @property
    def max_body(self) -> int:
        return int(self.st.settings.max_body)

    @cached_property
    def source(self) -> Source:
        return ExchangeSource(self.st.exchange, title=f"vigil node {self.st.settings.node_name}")

    async def actor(self, request: Request) -> Actor:
        return await actor_of(request)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.st.read(fn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.st.write(fn, *args)

    async def heavy(self, member: str, fn: Callable[..., T], *args: Any) -> T:
        return await self.st.heavy(member, fn, *args)

    async def ring(self, members: Iterable[str]) -> None:
        await self.st.bus.ring(members)


def host_of(request: Request) -> Host:
    host: Host = request.app.state.taxii
    return host


HostDep = Annotated[Host, Depends(host_of)]


async def taxii_actor(request: Request, host: HostDep) -> Actor:
    return await host.actor(request)


TaxiiActorDep = Annotated[Actor, Depends(taxii_actor)]


def taxii(body: Any, status: int = 200, headers: dict[str, str] | None = None,
          media_type: str = TAXII) -> Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(data, status_code=status, media_type=media_type, headers=headers)


def root_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + f"{PREFIX}/{API_ROOT}/"


async def _collection(host: Host, actor: Actor, cid: str) -> tuple[
        Source, Collection]:
    src = host.source
    for c in await host.read(src.collections, actor):
        if c.id == cid or c.alias == cid:
            return src, c
    raise NotFound(f"no collection {cid!r}", code="taxii.collection_not_found")


async def _readable(host: Host, actor: Actor, cid: str, query: Query
                    ) -> tuple[Collection, Page]:
    src, c = await _collection(host, actor, cid)
    if not c.can_read:
        raise PolicyDenied("this collection is write-only", code="taxii.not_readable")
    return c, await host.heavy(actor.member, src.page, actor, c, query)


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
async def discovery(request: Request, host: HostDep, actor: TaxiiActorDep) -> Response:
    """TAXII server discovery."""
    check_accept(request.headers.get("accept"))
    src = host.source
    root = root_url(request)
    return taxii({"title": src.api_root_title(),
                  "description": "TAXII 2.1 over vigil: collections are policy-filtered "
                                 "views of the exchange.",
                  "default": root, "api_roots": [root]})


@router.get(f"/{API_ROOT}/")
async def api_root(request: Request, host: HostDep, actor: TaxiiActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    return taxii({"title": host.source.api_root_title(),
                  "versions": [TAXII], "max_content_length": host.max_body})


@router.get(f"/{API_ROOT}/collections/")
async def collections(request: Request, host: HostDep, actor: TaxiiActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    src = host.source
    return taxii({"collections": [c.to_json() for c in await host.read(src.collections, actor)]})


@router.get(f"/{API_ROOT}/collections/{{cid}}/")
async def collection(cid: str, request: Request, host: HostDep, actor: TaxiiActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    _, c = await _collection(host, actor, cid)
    return taxii(c.to_json())


@router.get(f"/{API_ROOT}/collections/{{cid}}/objects/")
async def get_objects(cid: str, request: Request, host: HostDep, actor: TaxiiActorDep) -> Response:
    answer = check_accept(request.headers.get("accept"), objects=True)
    _, page = await _readable(host, actor, cid, _query(request))
    return taxii(_envelope(page), headers=_headers(page), media_type=answer)


@router.post(f"/{API_ROOT}/collections/{{cid}}/objects/")
async def add_objects(cid: str, request: Request, host: HostDep, actor: TaxiiActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    check_content_type(request.headers.get("content-type"))
    src, c = await _collection(host, actor, cid)
    if not c.can_write:
        raise PolicyDenied("this collection is read-only; POST to a publish-* collection",
                           code="taxii.not_writable")
    raw = await read_body(request, host.max_body)
    requested = clock.now()

    def add() -> Any:
        objects = posted_objects(raw, host.max_body)
        # the status resource is stored with the share, in its transaction
        return src.add(actor, c, objects, {
            "id": str(uuid.uuid4()), "status": "complete", "request_timestamp": requested,
            "total_count": len(objects)})

    added = await host.heavy(actor.member, add)
    if added.share_id is not None:
        await host.ring((*added.recipients, actor.member))
    return taxii(added.status, status=202)


@router.get(f"/{API_ROOT}/collections/{{cid}}/objects/{{oid}}/")
async def get_object(cid: str, oid: str, request: Request, host: HostDep, actor: TaxiiActorDep
                     ) -> Response:
    answer = check_accept(request.headers.get("accept"), objects=True)
    q = _query(request, ("version", "spec_version"), _object_id(oid))
    _, page = await _readable(host, actor, cid, q)
    if not page.items and q.cursor is None:
        raise NotFound(f"no object {oid} in this collection", code="taxii.object_not_found")
    return taxii(_envelope(page), headers=_headers(page), media_type=answer)


@router.delete(f"/{API_ROOT}/collections/{{cid}}/objects/{{oid}}/")
async def delete_object(cid: str, oid: str, request: Request, host: HostDep, actor: TaxiiActorDep
                        ) -> Response:
    check_accept(request.headers.get("accept"))
    q = _query(request, ("version", "spec_version"), _object_id(oid), default_version="all")
    src, c = await _collection(host, actor, cid)
    await host.write(src.delete, actor, c, q)
    return taxii(b"{}")


@router.get(f"/{API_ROOT}/collections/{{cid}}/objects/{{oid}}/versions/")
async def versions(cid: str, oid: str, request: Request, host: HostDep, actor: TaxiiActorDep
                   ) -> Response:
    check_accept(request.headers.get("accept"))
    q = _query(request, ("spec_version",), _object_id(oid), default_version="all")
    _, page = await _readable(host, actor, cid, q)
    if not page.items and q.cursor is None:
        raise NotFound(f"no object {oid} in this collection", code="taxii.object_not_found")
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next.token()
    body["versions"] = [show_time(i.version) for i in page.items]
    return taxii(body, headers=_headers(page))


@router.get(f"/{API_ROOT}/collections/{{cid}}/manifest/")
async def manifest(cid: str, request: Request, host: HostDep, actor: TaxiiActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    _, page = await _readable(host, actor, cid, _query(request))
    body: dict[str, Any] = {"more": page.more}
    if page.next is not None:
        body["next"] = page.next.token()
    if page.items:
        body["objects"] = [{"id": i.id, "date_added": i.added, "version": show_time(i.version),
                            "media_type": f"application/stix+json;version={i.spec_version}"}
                           for i in page.items]
    return taxii(body, headers=_headers(page))


@router.get(f"/{API_ROOT}/status/{{sid}}/")
async def status(sid: str, request: Request, host: HostDep, actor: TaxiiActorDep) -> Response:
    check_accept(request.headers.get("accept"))
    body = await host.read(host.source.status, actor, sid)
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
