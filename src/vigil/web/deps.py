"""Request-scoped dependencies: the node state, the authenticated actor, bodies."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BeforeValidator
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from vigil import params
from vigil.analysis.correlate import installed
from vigil.bus import Bus
from vigil.config import Settings
from vigil.errors import InputError
from vigil.lru import Lru
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.signin import users as access
from vigil.web import scopes
from vigil.web.auth import authenticate
from vigil.web.batch import PageBatcher
from vigil.web.metrics import Metrics
from vigil.web.observe import route_of
from vigil.web.throttle import Throttle

T = TypeVar("T")
HEAVY_PER_MEMBER = 1  # heavy requests of one member that run at once
JOIN_APART = 1 << 20  # a body from this size on is put together in a thread


class State:
    def __init__(self, settings: Settings, exchange: Exchange, bus: Bus) -> None:
        self.settings = settings
        self.exchange = exchange
        self.bus = bus
        self.metrics = Metrics()
        self.inline_reads = exchange.store.url.startswith("sqlite")
        # The push path: serialised envelopes shared by every subscriber, and one
        # batched inbox read for every stream a share wakes, followed by one read of
        # the credential epoch for all of them (see vigil.signin.users).
        self.event_bodies: Lru[tuple[str, bool, bool], bytes] = Lru(
            1024, max_bytes=int(settings.values.get("cache_mib", 64)) * 256 * 1024, weigh=len)
        self.pages = PageBatcher(self.read, lambda requests, limit: exchange.inbox_pages(
                                     requests, limit, notices=True),
                                 coalesce=0.0 if self.inline_reads else 0.001,
                                 fast=None if self.inline_reads else (
                                     lambda requests, limit: exchange.inbox_pages_async(
                                         requests, limit, notices=True)),
                                 after=lambda: access.epoch(exchange))
        self.throttle = Throttle()
        # heavy requests (bundles, searches, TAXII filters) of one member run one at a
        # time, each in a thread: they queue behind each other, not before other members
        self._heavy: dict[str, tuple[asyncio.Semaphore, int]] = {}

    async def read(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run a short read: inline on SQLite (microseconds), in a thread elsewhere."""
        if self.inline_reads:
            return fn(*args, **kw)
        return await run_in_threadpool(fn, *args, **kw)

    async def write(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        return await run_in_threadpool(fn, *args, **kw)

    async def authenticate(self, conn: HTTPConnection) -> Actor:
        """``vigil.web.auth.authenticate`` for a request: the lookup is a read (inline
        on SQLite), and the sign-in or failed sign-in it records, a synced write, is
        made in a thread before the request goes on: never on the event loop, where it
        would hold up every stream for a sync (or for a publish's write lock)."""
        if not self.inline_reads:
            return await run_in_threadpool(authenticate, conn, self.exchange, self.throttle)
        writes: list[Callable[[], None]] = []
        try:
            return authenticate(conn, self.exchange, self.throttle, deferred=writes)
        finally:
            for write in writes:
                await run_in_threadpool(write)

    @contextlib.asynccontextmanager
    async def member_slot(self, member: str) -> AsyncIterator[None]:
        """Hold the member's slot for heavy work (``HEAVY_PER_MEMBER`` at a time)."""
        sem, users = self._heavy.get(member) or (asyncio.Semaphore(HEAVY_PER_MEMBER), 0)
        self._heavy[member] = (sem, users + 1)
        try:
            async with sem:
                yield
        finally:
            sem, users = self._heavy[member]
            if users == 1:
                del self._heavy[member]
            else:
                self._heavy[member] = (sem, users - 1)

    async def heavy(self, member: str, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """Run CPU-heavy work for a member: in a thread, after the member's earlier
        heavy requests."""
        async with self.member_slot(member):
            return await run_in_threadpool(fn, *args, **kw)

    async def analysis_read(self, fn: Callable[..., T], *args: Any, **kw: Any) -> T:
        """A read of correlation results (notices, search, ledger): short when the
        correlation index is warm; else it first loads the index or passes shares, in
        a thread, never on the event loop."""
        c = installed(self.exchange)
        if c is None or c.warm():
            return await self.read(fn, *args, **kw)
        return await run_in_threadpool(fn, *args, **kw)


def state_of(request: Request) -> State:
    st: State = request.app.state.vigil
    return st


async def actor_of(request: Request) -> Actor:
    """The authenticated actor, if its token's scope allows this route (403
    ``auth.scope`` otherwise: vigil.web.scopes)."""
    st = state_of(request)
    actor = await st.authenticate(request)
    scopes.require(actor, request.method, route_of(request.scope, frozenset()))
    return actor


StateDep = Annotated[State, Depends(state_of)]
ActorDep = Annotated[Actor, Depends(actor_of)]


def number(name: str, lo: int = 0, hi: int = params.MAX_INT) -> BeforeValidator:
    """Read an integer query parameter with vigil.params (its codes and bounds), not the
    framework's integer parsing: put it in the parameter's ``Annotated``."""
    def parse(value: object) -> object:
        return params.number(value, name, lo=lo, hi=hi) if isinstance(value, str) else value
    return BeforeValidator(parse)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and params.number(declared, "Content-Length") > limit:
        raise InputError(f"body over {limit} bytes", code="input.too_large", pointer="",
                         status=413)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(f"body over {limit} bytes", code="input.too_large", pointer="",
                         status=413)
        chunks.append(chunk)
    if size >= JOIN_APART:  # tens of ms for tens of MiB: not on the event loop
        return await run_in_threadpool(b"".join, chunks)
    return b"".join(chunks)


