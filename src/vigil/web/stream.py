"""The push stream: Server-Sent Events per member, resumable with Last-Event-ID.

A subscriber registers its doorbell first, then reads its inbox from the store after
its cursor, sends what it may read, and waits for the next ring. The bus carries no
data; a lost ring delays delivery until the next ring or reconnect.

The stream is served by ``SseResponse``, an ASGI response that writes straight to the
server's ``send``. ``fast_path`` lets the application hand stream requests to it
before the framework's routing and middleware, which matters when one share wakes a
hundred subscribers at once; the documented FastAPI route returns the same response.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from vigil import params
from vigil.errors import AuthError, VigilError
from vigil.web import errors
from vigil.web.auth import actor_of_credential, credential
from vigil.web.deps import ActorDep, State, StateDep, number
from vigil.web.rest import share_json

router = APIRouter()
PATH = "/api/v1/stream"
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def cursor_of(last_event_id: str | None, after: str | int | None) -> int:
    """Where a stream starts: ``Last-Event-ID`` if sent, else ``after``, else 0."""
    if last_event_id:
        return params.cursor(last_event_id, "Last-Event-ID")
    if isinstance(after, int):
        return after
    return params.cursor(after)


class SseResponse(Response):
    """Stream a member's inbox after a cursor, then every new entry as it is rung.

    After each read of the inbox (and at each keep-alive) the stream reads the node's
    credential epoch (one read for the batch of streams read together, after their
    inbox read); when it moved, the stream authenticates its credential again and
    ends, sending nothing more, if it was revoked (``vigil.signin.users``)."""

    def __init__(self, state: State, member: str, cursor: int, credential: str = "") -> None:
        # (without a credential the stream ends at its first check: it fails closed)
        super().__init__(status_code=200)
        self.state = state
        self.member = member
        self.cursor = cursor
        self.credential = credential
        self.epoch: str | None = None  # None: authenticate again at the first check
        self.epoch_read: str | None = None  # the epoch read after the last inbox read

    async def _allowed(self) -> bool:
        """Whether the stream's credential still stands (the epoch read after the
        inbox, in the same batch as the read: ``_chunk``)."""
        st = self.state
        now = self.epoch_read
        if now is not None and now == self.epoch:
            return True
        try:
            actor = await st.read(actor_of_credential, self.credential, st.exchange)
        except AuthError:
            return False
        self.epoch = now
        return actor.member == self.member

    async def _chunk(self) -> tuple[bytes, bool]:
        """The events after the cursor (the cursor moved past them), and whether more
        may follow at once."""
        st = self.state
        (rows, self.cursor, more), self.epoch_read = await st.pages.page_after(
            self.member, self.cursor)
        parts = []
        for entry, env, state in rows:
            key = (entry.share_id, state.recalled, state.purged)
            body = st.event_bodies.get(key)
            if body is None:
                body = orjson.dumps(share_json(env, state, st.exchange.log.refs.get(env.id)))
                st.event_bodies.put(key, body)
            head = orjson.dumps({"seq": entry.seq, "share_id": entry.share_id,
                                 "added": entry.added})
            # a recalled share comes back as its signed header without payload
            kind = b"recall" if state.recalled else b"share"
            parts.append(b"id: %d\nevent: %s\ndata: %s,\"envelope\":%s}\n\n"
                         % (entry.seq, kind, head[:-1], body))
            st.metrics.delivered(entry.added)
        return b"".join(parts), more

    def _bell(self) -> str:
        """The bus doorbell that wakes this stream."""
        return self.member

    async def _pump(self, send: Send) -> None:
        keepalive = float(self.state.settings.keepalive)
        with self.state.bus.subscribe(self._bell()) as sub:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await send({"type": "http.response.body", "body": b"retry: 1000\n: connected\n\n",
                        "more_body": True})
            while True:
                chunk, more = await self._chunk()
                if not await self._allowed():
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if more:
                    continue
                if not await sub.wait(keepalive):
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n",
                                "more_body": True})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def disconnected() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(disconnected())
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, watch):
                task.cancel()
            for task in (pump, watch):
                with contextlib.suppress(asyncio.CancelledError, OSError, VigilError):
                    await task
        if pump.done() and not pump.cancelled() and pump.exception() is not None:
            # the store went away mid-stream: end the response; clients reconnect
            with contextlib.suppress(OSError, RuntimeError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def fast_path(state: State, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve GET /api/v1/stream without the framework's routing (same semantics)."""
    conn = HTTPConnection(scope)
    try:
        actor = await state.authenticate(conn)
        cursor = cursor_of(conn.headers.get("last-event-id"), conn.query_params.get("after"))
    except VigilError as exc:
        await errors.response(exc, PATH)(scope, receive, send)
        return
    await SseResponse(state, actor.member, cursor, credential(conn, state.exchange))(
        scope, receive, send)


@router.get("/stream", tags=["inbox"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(
    request: Request,
    st: StateDep,
    actor: ActorDep,
    after: Annotated[int | None, Query(ge=0, description="start after this seq"),
                     number("after")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> Response:
    """Server-Sent Events: one `share` event per inbox entry, `id:` = inbox seq. A
    reconnecting client sends `Last-Event-ID` and receives what it missed."""
    return SseResponse(st, actor.member, cursor_of(last_event_id, after),
                       credential(request, st.exchange))
