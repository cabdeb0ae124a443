"""Around every HTTP request: its id, its access-log line and its metrics.

The request id is the client's ``X-Request-Id`` when it is a short token of safe
characters, else a new one; it is echoed in the response and set on every log record
written while the request is served. The access line and the metrics name the route by
its template, never the path as sent (which may hold share ids or values).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vigil.logs import request_id
from vigil.web.metrics import Metrics

log = logging.getLogger("vigil.access")

HEADER = b"x-request-id"
_SAFE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,64}$")
UNMATCHED = "unmatched"


def incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER and _SAFE_ID.match(value):
            return str(value.decode("ascii"))
    return uuid.uuid4().hex


def route_of(scope: Scope, fast_paths: frozenset[str]) -> str:
    """The template of the route that answered (set by the router in the scope)."""
    if scope["path"] in fast_paths:
        return str(scope["path"])
    # FastAPI keeps the template with its routers' prefixes in its part of the scope;
    # a route's own path lacks them
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    for path in (getattr(context, "path_format", None), getattr(scope.get("route"), "path",
                                                                None)):
        if isinstance(path, str) and path:
            return path
    return UNMATCHED


async def observed(app: Callable[[Scope, Receive, Send], Awaitable[None]] | ASGIApp,
                   metrics: Metrics, fast_paths: frozenset[str],
                   scope: Scope, receive: Receive, send: Send) -> None:
    rid = incoming_id(scope)
    token = request_id.set(rid)
    start = time.perf_counter()
    status = 500
    streaming = False

    async def send_observed(message: Message) -> None:
        nonlocal status, streaming
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
            headers.append((HEADER, rid.encode("ascii")))
            message = {**message, "headers": headers}
            streaming = any(k.lower() == b"content-type" and v.startswith(b"text/event-stream")
                            for k, v in headers)
            if streaming:
                metrics.open_streams.inc()
        await send(message)

    try:
        await app(scope, receive, send_observed)
    finally:
        if streaming:
            metrics.open_streams.dec()
        took = time.perf_counter() - start
        route, method = route_of(scope, fast_paths), str(scope["method"])
        metrics.answered(route, method, status, took)
        log.info("%s %s %d", method, route, status, extra={"vigil": {
            "method": method, "route": route, "status": status,
            "seconds": round(took, 6)}})
        request_id.reset(token)
