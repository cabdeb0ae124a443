"""TAXII 2.1 error messages: the spec's error body (title, description, error_code,
http_status, details) with the stable vigil code as ``error_code``, in the TAXII media
type. The web edge (``vigil.web.errors``) answers every error under /taxii2/ with it."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from vigil.errors import AuthError, VigilError
from vigil.taxii.media import TAXII

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
