"""TAXII 2.1 error messages: every VigilError raised under /taxii2/ is answered with the
spec's error body (title, description, error_code, http_status, details), the stable
vigil code as ``error_code``, in the TAXII media type."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from vigil.errors import AuthError, VigilError
from vigil.taxii.media import TAXII

log = logging.getLogger("vigil.taxii")

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Request entity too large",
    415: "Unsupported media type",
    422: "Unprocessable entity",
    503: "Service unavailable",
}


def error_body(exc: VigilError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": TITLES.get(exc.status, "Internal error"),
        "description": exc.message,
        "error_code": exc.code,
        "http_status": str(exc.status),
    }
    details: dict[str, Any] = dict(exc.detail)
    if exc.pointer is not None:
        details["pointer"] = exc.pointer
    if details:
        body["details"] = details
    return body


def error_response(exc: VigilError) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="vigil TAXII"'} \
        if isinstance(exc, AuthError) else getattr(exc, "headers", None)  # a 429's Retry-After
    return Response(orjson.dumps(error_body(exc)), status_code=exc.status,
                    media_type=TAXII, headers=headers)


class TaxiiRoute(APIRoute):
    """A route whose errors, from dependencies (authentication) or the handler, are
    rendered as TAXII error messages rather than vigil's REST error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except VigilError as exc:
                return error_response(exc)
            except HTTPException as exc:
                return error_response(VigilError(str(exc.detail), code=f"http.{exc.status_code}",
                                                 status=exc.status_code))
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return error_response(VigilError(
                    "internal error; the request may not have completed",
                    code="internal", status=500))

        return route
