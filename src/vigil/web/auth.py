"""Authentication: the acting member comes from the credential, never from the body.

A credential is a user's API token, sent as a Bearer (or Basic) header. The web
console signs a user in once with the token and keeps it server-side behind an
opaque random session id, sent back as an HttpOnly, SameSite=Strict cookie; on safe
(GET/HEAD) requests, such as the push stream opened by the browser's EventSource,
that cookie stands in for the header. Every request still authenticates through
``Exchange.authenticate``, so a revoked token ends its sessions at once.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
import weakref
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from vigil.errors import AuthError
from vigil.exchange import Exchange
from vigil.model import Actor

SESSION_COOKIE = "vigil_session"
SESSION_TTL = 12 * 3600.0
SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    token: str
    csrf: str
    expires: float


class Sessions:
    """Console sessions of one node process, in memory: id -> (token, CSRF token)."""

    def __init__(self, ttl: float = SESSION_TTL, limit: int = 100_000) -> None:
        self.ttl = ttl
        self.limit = limit
        self._by_id: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token: str) -> Session:
        s = Session(secrets.token_urlsafe(32), token, secrets.token_urlsafe(32),
                    time.monotonic() + self.ttl)
        with self._lock:
            if len(self._by_id) >= self.limit:
                self._sweep()
                while len(self._by_id) >= self.limit:  # drop the oldest
                    self._by_id.pop(next(iter(self._by_id)))
            self._by_id[s.id] = s
        return s

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        with self._lock:
            s = self._by_id.get(session_id)
            if s is not None and s.expires <= time.monotonic():
                del self._by_id[session_id]
                return None
            return s

    def drop(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._by_id.pop(session_id, None)

    def _sweep(self) -> None:
        now = time.monotonic()
        for sid in [k for k, s in self._by_id.items() if s.expires <= now]:
            del self._by_id[sid]


_SESSIONS: weakref.WeakKeyDictionary[Exchange, Sessions] = weakref.WeakKeyDictionary()
_SESSIONS_LOCK = threading.Lock()


def sessions(exchange: Exchange) -> Sessions:
    """The console sessions kept for one exchange (one node) in this process."""
    with _SESSIONS_LOCK:
        s = _SESSIONS.get(exchange)
        if s is None:
            s = _SESSIONS[exchange] = Sessions()
        return s


def credential(conn: HTTPConnection, exchange: Exchange | None = None) -> str:
    """The token of a Bearer header, or the password of a Basic header (user:token);
    without a header, on GET/HEAD, the token behind a console session cookie."""
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
    if not header and exchange is not None and conn.scope.get("method") in SAFE_METHODS:
        session = sessions(exchange).get(conn.cookies.get(SESSION_COOKIE))
        if session is not None:
            return session.token
    raise AuthError("authentication required: Authorization: Bearer <token>",
                    code="auth.required")


def authenticate(conn: HTTPConnection, exchange: Exchange) -> Actor:
    return exchange.authenticate(credential(conn, exchange))
