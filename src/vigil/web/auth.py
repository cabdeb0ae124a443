"""Authentication: the acting member comes from the credential, never from the body."""

from __future__ import annotations

import base64
import binascii

from starlette.requests import HTTPConnection

from vigil.errors import AuthError
from vigil.exchange import Exchange
from vigil.model import Actor


def credential(conn: HTTPConnection) -> str:
    """The token of a Bearer header, or the password of a Basic header (user:token)."""
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value:
        return value.strip()
    if scheme == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError("malformed Basic credentials", code="auth.malformed") from None
        return decoded.partition(":")[2]
    raise AuthError("authentication required: Authorization: Bearer <token>",
                    code="auth.required")


def authenticate(conn: HTTPConnection, exchange: Exchange) -> Actor:
    return exchange.authenticate(credential(conn))
