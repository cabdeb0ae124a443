"""The node's OpenAPI document states its error answers.

FastAPI documents a ``422`` with its own validation body on operations that take
parameters; vigil answers every error with its own body (``{"error": {...}}``, TAXII's
error message under ``/taxii2/``, see :mod:`vigil.web.errors`) and with the statuses of
:data:`vigil.codes.CODES`. :func:`install` makes ``/api/openapi.json`` say so: every
operation lists each 4xx status a vigil error code carries (and 503, a backing service
down) with the body it then has, so a client or a schema-driven test can check any
answer against the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from vigil.codes import CODES
from vigil.taxii.media import TAXII
from vigil.web.errors import TAXII_PREFIX

ERROR_STATUSES = tuple(sorted({s for s, _ in CODES.values() if 400 <= s < 500 or s == 503}))

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable code, area.reason"},
            "message": {"type": "string"},
            "pointer": {"type": "string", "description": "RFC 6901 JSON pointer of the fault"},
            "detail": {"type": "object"},
        },
    }},
}
_TAXII_ERROR = {
    "type": "object",
    "required": ["title", "http_status"],
    "properties": {
        "title": {"type": "string"},
        "description": {"type": "string"},
        "error_code": {"type": "string", "description": "vigil's stable code"},
        "http_status": {"type": "string"},
        "details": {"type": "object"},
    },
}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with vigil's error answers on every operation (in place; returned)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = _ERROR
    components["TaxiiError"] = _TAXII_ERROR
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, item in schema.get("paths", {}).items():
        taxii = path == TAXII_PREFIX or path.startswith(TAXII_PREFIX + "/")
        ref = {"$ref": "#/components/schemas/" + ("TaxiiError" if taxii else "Error")}
        media = TAXII if taxii else "application/json"
        for op in item.values():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            responses = op["responses"]
            for status in ERROR_STATUSES:
                responses[str(status)] = {
                    "description": "vigil's error body (see docs/api.md for the codes)",
                    "content": {media: {"schema": ref}},
                }
    return schema


def install(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI document with :func:`document_errors` applied."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
