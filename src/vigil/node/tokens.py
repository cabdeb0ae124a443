"""Bearer tokens of a node's users: made, scoped, and kept only as a hash."""

from __future__ import annotations

import hashlib
import secrets

from vigil.errors import InputError

TOKEN_PREFIX = 12  # characters of a token kept in clear to name it ("vgl_" + 8)
SCOPES = ("read", "publish", "admin")  # each includes the ones before it


def new_token() -> str:
    return "vgl_" + secrets.token_urlsafe(32)


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise InputError(f"scope {scope!r} is not one of {', '.join(SCOPES)}",
                         code="input.scope", pointer="/scope")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


