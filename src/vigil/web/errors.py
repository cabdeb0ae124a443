"""Every error the web edge answers, rendered once, here.

Whatever went wrong — a ``VigilError`` raised on purpose, a query or body the framework
refused, an unknown route or a wrong verb, an unexpected exception — it becomes one
``VigilError`` (:func:`as_vigil`) and one response (:func:`response`): vigil's body
``{"error": {"code", "message", "pointer"?, "detail"?}}``, or under ``/taxii2/`` the TAXII
2.1 error message. :func:`install` puts the handlers on an application; routes served
before the framework (the push stream, search) call :func:`guard`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from vigil.errors import InputError, VigilError
from vigil.taxii import errors as taxii_errors
from vigil.taxii.media import TAXII

log = logging.getLogger("vigil.web")
TAXII_PREFIX = "/taxii2"
_WHERE = {"query": "input.query", "path": "input.path", "body": "input.body",
          "header": "input.header", "cookie": "input.cookie"}
_HTTP = {404: "http.not_found", 405: "http.method_not_allowed"}


def validation_error(exc: RequestValidationError) -> InputError:
    """A query, path or body the framework refused, as vigil's error (first problem)."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ())]
    where = loc[0] if loc else "request"
    pointer = "/" + "/".join(loc[1:]) if len(loc) > 1 else ""
    return InputError(f"{where} {pointer.lstrip('/') or ''}: {first.get('msg', 'invalid')}"
                      .replace("  ", " "), code=_WHERE.get(where, "input.invalid"),
                      pointer=pointer)


def as_vigil(exc: BaseException) -> VigilError:
    """Any exception as the VigilError the client is told (unexpected ones: ``internal``,
    with nothing of their content)."""
    if isinstance(exc, VigilError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation_error(exc)
    if isinstance(exc, HTTPException):
        what = {404: "no such route", 405: "this route does not take that method"}
        return VigilError(what.get(exc.status_code, str(exc.detail)),
                          code=_HTTP.get(exc.status_code, "http.error"),
                          status=exc.status_code)
    return VigilError("internal error; the request may not have completed", code="internal",
                      status=500)


def response(exc: BaseException, path: str) -> Response:
    """The one rendering of an error for a request to ``path``."""
    err = as_vigil(exc)
    if err is not exc and err.status >= 500:
        log.error("unhandled error on %s", path, exc_info=exc)
    # an HTTPException's Allow, a VigilError's own headers (Retry-After of a 429)
    headers = dict(getattr(exc, "headers", None) or {})
    if path == TAXII_PREFIX or path.startswith(TAXII_PREFIX + "/"):
        out = taxii_errors.error_response(err)
        out.headers.update(headers)
        return out
    return JSONResponse({"error": err.to_dict()}, status_code=err.status, headers=headers)


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with :func:`response`, and say so in its OpenAPI
    document."""

    async def handle(request: Request, exc: Exception) -> Response:
        return response(exc, request.url.path)

    for kind in (VigilError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, handle)
    framework_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(framework_openapi())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "description": "stable; see docs/api.md"},
                       "message": {"type": "string"},
                       "pointer": {"type": "string", "description": "RFC 6901"},
                       "detail": {"type": "object"}}}},
}
TAXII_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["title", "error_code", "http_status"],
    "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                   "error_code": {"type": "string"}, "http_status": {"type": "string"},
                   "details": {"type": "object"}},
}


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """The framework's OpenAPI document with the errors as this module answers them:
    every operation may answer 4XX and 5XX in vigil's shape (TAXII's under /taxii2/), and
    no 422 in the framework's shape."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for gone in ("HTTPValidationError", "ValidationError"):
        schemas.pop(gone, None)
    schemas["Error"] = ERROR_SCHEMA
    schemas["TaxiiError"] = TAXII_ERROR_SCHEMA
    for path, ops in schema.get("paths", {}).items():
        taxii = path == TAXII_PREFIX or path.startswith(TAXII_PREFIX + "/")
        media = TAXII if taxii else "application/json"
        ref = {"$ref": "#/components/schemas/" + ("TaxiiError" if taxii else "Error")}
        for op in ops.values():
            responses = op.setdefault("responses", {})
            responses.pop("422", None)
            for status, what in (("4XX", "refused; nothing changed"),
                                 ("5XX", "the node could not answer")):
                responses[status] = {"description": what,
                                     "content": {media: {"schema": ref}}}
    return schema


async def guard(serve: Callable[[Scope, Receive, Send], Awaitable[None]], scope: Scope,
                receive: Receive, send: Send) -> None:
    """Run an ASGI callable served outside the framework: an error raised before its
    response started is answered by :func:`response`; after, the response just ends."""
    started = False

    async def tracked(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    try:
        await serve(scope, receive, tracked)
    except Exception as exc:
        if started:
            log.exception("error after the response started on %s", scope.get("path"))
            return
        await response(exc, str(scope.get("path", "")))(scope, receive, send)


def head_as_get(scope: Scope, send: Send) -> tuple[Scope, Send]:
    """HEAD served as GET without the body: the status and headers GET would answer."""
    if scope.get("type") != "http" or scope.get("method") != "HEAD":
        return scope, send
    done = False

    async def headers_only(message: Message) -> None:
        nonlocal done
        if done:
            return
        if message["type"] == "http.response.body":
            done = True
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return {**scope, "method": "GET"}, headers_only
