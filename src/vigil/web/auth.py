"""Authentication: the acting member comes from the credential, never from the body.

A credential is a user's API token, sent as a Bearer (or Basic) header. The web
console signs a user in once with the token and opens a session in the node's store
(only a hash of its random id is kept), sent back as an HttpOnly, SameSite=Strict
cookie; on safe (GET/HEAD) requests, such as the push stream opened by the browser's
EventSource, that cookie stands in for the header. Every use looks the user up afresh,
so a revoked user or an inactive member ends its sessions at once. Over TLS, without a
header, a client certificate the TLS layer verified stands in for the token when a
mapping names it (``vigil.signin.certs``). What the credential may do is its user's scope,
checked per route by ``vigil.web.scopes``; sign-ins are recorded by ``vigil.signin.audit``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from starlette.requests import HTTPConnection

from vigil.errors import AuthError
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.signin import audit, certs
from vigil.web.throttle import COUNTED, Throttle
from vigil.web.tls import client_cert

SESSION_COOKIE = "vigil_session"
SESSION_TTL = 12 * 3600
SESSION_PREFIX = "\0session:"  # marks a cookie credential; no token contains NUL
CERT_PREFIX = "\0cert:"  # marks a client certificate the TLS layer verified
SAFE_METHODS = frozenset({"GET", "HEAD"})
SIGNINS = audit.Signins()  # API sign-ins recorded once an hour per user in this worker


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    csrf: str
    actor: Actor


class Sessions:
    """Console sessions kept in the node's store (shared by every worker); only a hash
    of the session id is stored, and every use authenticates the user afresh."""

    def __init__(self, exchange: Exchange, ttl: int = SESSION_TTL) -> None:
        self.exchange = exchange
        self.ttl = ttl

    def create(self, token: str, address: str = "") -> Session:
        sid, csrf = self.exchange.open_session(token, self.ttl)
        actor = self.exchange.authenticate(token)
        audit.record(self.exchange, actor.member, actor.user, "signin", "console", address)
        return Session(sid, csrf, actor)

    def open(self, actor: Actor, method: str, address: str = "") -> Session:
        """A session for an actor authenticated another way (``method``: sso, passkey)."""
        assert actor.user is not None
        sid, csrf = self.exchange.open_user_session(actor.user, self.ttl)
        audit.record(self.exchange, actor.member, actor.user, "signin", f"console {method}",
                     address)
        return Session(sid, csrf, actor)

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        try:
            actor, csrf = self.exchange.session(session_id)
        except AuthError:
            return None
        return Session(session_id, csrf, actor)

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self.exchange.close_session(session_id)


def sessions(exchange: Exchange) -> Sessions:
    """The console sessions of one node."""
    return Sessions(exchange)


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
    der = client_cert(conn.scope) if not header else None
    if der is not None:
        return CERT_PREFIX + base64.b64encode(der).decode()
    if not header and exchange is not None and conn.scope.get("method") in SAFE_METHODS:
        session = conn.cookies.get(SESSION_COOKIE)
        if session:
            return SESSION_PREFIX + session
    raise AuthError("authentication required: Authorization: Bearer <token>",
                    code="auth.required")


def authenticate(conn: HTTPConnection, exchange: Exchange,
                 throttle: Throttle | None = None, *,
                 deferred: list[Callable[[], None]] | None = None) -> Actor:
    """The actor behind the request's credential; with ``throttle``, a client over its
    limit of failed attempts is refused (429) before the credential is looked up, a
    failure counts against its address and the credential's prefix, and the sign-in
    or failed sign-in is recorded in the member's events (``vigil.signin.audit``).
    With ``deferred``, those records (writes to the store) are not made here but
    added to it, for the caller to make before it answers (in a thread, when this
    runs on the event loop: ``State.authenticate``)."""
    cred = ""
    keys: tuple[str, ...] = ()
    address = conn.client.host if conn.client else ""
    if throttle is not None:
        cred = conn.headers.get("authorization", "").partition(" ")[2].strip()
        keys = throttle.keys(address or None, cred)
        throttle.check(keys)
    try:
        cred = credential(conn, exchange)
        actor = actor_of_credential(cred, exchange)
    except AuthError as exc:
        if throttle is not None and exc.code in COUNTED:
            throttle.failed(keys, exc.code)
            failed = partial(audit.failed, exchange, cred, exc.code, address)
            if deferred is None:
                failed()
            else:
                deferred.append(failed)
        raise
    if throttle is not None:
        method = ("session" if cred.startswith(SESSION_PREFIX)
                  else "certificate" if cred.startswith(CERT_PREFIX) else "token")
        if SIGNINS.due(actor, method):
            signin = partial(audit.record, exchange, actor.member, actor.user, "signin",
                             method, address)
            if deferred is None:
                signin()
            else:
                deferred.append(signin)
    return actor


def actor_of_credential(cred: str, exchange: Exchange) -> Actor:
    """The actor behind a credential from ``credential`` (token, session or client
    certificate)."""
    if cred.startswith(CERT_PREFIX):
        return certs.authenticate(exchange, base64.b64decode(cred[len(CERT_PREFIX):]))
    if cred.startswith(SESSION_PREFIX):
        return exchange.session(cred[len(SESSION_PREFIX):])[0]
    return exchange.authenticate(cred)
