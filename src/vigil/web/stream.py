"""The push stream: Server-Sent Events per member, resumable with Last-Event-ID.

A subscriber registers its doorbell first, then reads its inbox from the store after
its cursor, sends what it may read, and waits for the next ring. The bus carries no
data; a lost ring delays delivery until the next ring or keep-alive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from vigil.errors import InputError
from vigil.web.deps import ActorDep, StateDep
from vigil.web.rest import share_json

router = APIRouter()
BATCH = 100


def _cursor(last_event_id: str | None, after: int | None) -> int:
    if last_event_id:
        if not last_event_id.isdigit():
            raise InputError("Last-Event-ID must be an inbox seq", code="input.cursor")
        return int(last_event_id)
    return after or 0


@router.get("/stream", tags=["inbox"], response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream(
    request: Request,
    st: StateDep,
    actor: ActorDep,
    after: Annotated[int | None, Query(ge=0, description="start after this seq")] = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Server-Sent Events: one `share` event per inbox entry, `id:` = inbox seq. A
    reconnecting client sends `Last-Event-ID` and receives what it missed."""
    cursor = _cursor(last_event_id, after)
    member = actor.member
    ex = st.exchange
    keepalive = float(st.settings.keepalive)
    sub = st.bus.subscribe(member)

    async def events() -> AsyncIterator[bytes]:
        nonlocal cursor
        try:
            yield b"retry: 1000\n: connected\n\n"
            while True:
                rows, cursor, more = await st.read(ex.inbox_page, member, cursor, BATCH)
                if rows:
                    chunks = []
                    for entry, env, state in rows:
                        key = (entry.share_id, state.recalled, state.purged)
                        body = st.event_bodies.get(key)
                        if body is None:
                            body = orjson.dumps(share_json(env, state))
                            st.event_bodies.put(key, body)
                        head = orjson.dumps({"seq": entry.seq, "share_id": entry.share_id,
                                             "added": entry.added})
                        chunks.append(b"id: %d\nevent: share\ndata: %s,\"envelope\":%s}\n\n"
                                      % (entry.seq, head[:-1], body))
                    yield b"".join(chunks)
                if more:
                    continue
                if not await sub.wait(keepalive):
                    yield b": keep-alive\n\n"
        finally:
            sub.close()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
