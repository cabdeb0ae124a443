"""Single sign-on for the console: the OpenID providers a node trusts, and whom they name.

A provider is known by its issuer URL. The node's operator adds it with the client id
and secret the provider issued, the claim that names the member (its value is the
member's name), the claim that names the user (the user's name within that member),
and the members it may speak for: a provider never signs in a user of a member it was
not given, whatever its claims say. A user the mapping does not name (no such claim,
another member, no such user, a revoked one) is refused. The signed-in user acts with
the scope of its own token (``vigil.signin.tokens``).

The client secret is stored sealed under the node's ``secrets.key``
(:class:`vigil.crypto.secretfile.SecretBox`), never in clear.

The protocol (authorization code with PKCE, the ID token's checks, logout at the
provider) is ``vigil.web.console.sso_pages``; this module holds what the store keeps:
providers, sign-ins under way (only a hash of their state), and the ID token of each
console session opened by SSO so that signing out can end the provider's session too,
and its ``sid``/``sub`` so that the provider can end the console sessions when its own
session ends (OpenID Connect Back-Channel Logout 1.0, :func:`end_sessions`).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from vigil import clock
from vigil.crypto.secretfile import SEALED_PREFIX
from vigil.errors import AuthError, Conflict, InputError, NotFound
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.node.tokens import hash_token
from vigil.storage import signin as stored
from vigil.storage.base import Sql

PENDING_TTL = 600  # seconds a browser has to come back from the provider
DEFAULT_SCOPES = "openid profile email"


@dataclass(frozen=True, slots=True)
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    member_claim: str
    user_claim: str
    scopes: str
    members: tuple[str, ...]  # member ids

    @property
    def key(self) -> str:
        """A short stable name for the provider in console URLs."""
        return hashlib.sha256(self.issuer.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "client_id": self.client_id,
                "member_claim": self.member_claim, "user_claim": self.user_claim,
                "scopes": self.scopes, "members": list(self.members)}


@dataclass(frozen=True, slots=True)
class Pending:
    issuer: str
    nonce: str
    verifier: str


def check_issuer(issuer: str) -> str:
    """An issuer must be an https URL (plain http only on a loopback address)."""
    issuer = issuer.strip().rstrip("/")
    try:
        parts = urlsplit(issuer)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query \
            or parts.fragment:
        raise InputError(f"issuer {issuer!r} must be an https URL", code="input.issuer")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InputError("an issuer must use https (http only on a loopback address)",
                         code="input.issuer")
    return issuer


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def add_provider(ex: Exchange, issuer: str, *, client_id: str, client_secret: str,
                 member_claim: str, user_claim: str, members: Sequence[str],
                 scopes: str = DEFAULT_SCOPES) -> Provider:
    issuer = check_issuer(issuer)
    for value, what in ((client_id, "client id"), (client_secret, "client secret"),
                        (member_claim, "member claim"), (user_claim, "user claim")):
        if not value.strip():
            raise InputError(f"the {what} must not be empty", code="input.sso")
    if "openid" not in scopes.split():
        raise InputError("the scopes must include openid", code="input.sso")
    if not members:
        raise InputError("name at least one member the provider may sign in (--member)",
                         code="input.sso")
    ids = tuple(dict.fromkeys(ex.member(m).id for m in members))
    if any(p.issuer == issuer for p in providers(ex)):
        raise Conflict(f"provider {issuer} already exists", code="sso.exists")

    sealed = ex.secrets.seal(client_secret.strip(), f"sso/{issuer}")

    row = (issuer, client_id.strip(), sealed, member_claim.strip(), user_claim.strip(),
           " ".join(scopes.split()), clock.now())
    ex.store.write(lambda sql: stored.insert_provider(sql, row, list(ids)))
    return provider(ex, issuer)


def remove_provider(ex: Exchange, issuer: str) -> None:
    issuer = issuer.strip().rstrip("/")

    if not ex.store.write(lambda sql: stored.delete_provider(sql, issuer)):
        raise NotFound(f"no provider {issuer}", code="sso.not_found")


def providers(ex: Exchange) -> list[Provider]:
    rows, members = ex.store.read(stored.provider_rows)
    return [Provider(r[0], r[1], ex.secrets.open(str(r[2]), f"sso/{r[0]}"), r[3], r[4], r[5],
                     tuple(m[1] for m in members if m[0] == r[0])) for r in rows]


def seal_stored(ex: Exchange) -> int:
    """Seal the client secrets stored in clear before sealing existed; how many."""
    rows = ex.store.read(stored.provider_secrets)
    legacy = [(i, v) for i, v in rows if not v.startswith(SEALED_PREFIX)]

    def write(sql: Sql) -> None:
        for issuer, secret in legacy:
            stored.set_provider_secret(sql, issuer, ex.secrets.seal(secret, f"sso/{issuer}"))

    if legacy:
        ex.store.write(write)
    return len(legacy)


def provider(ex: Exchange, ref: str) -> Provider:
    """A provider by issuer or by its key."""
    ref = ref.strip().rstrip("/")
    for p in providers(ex):
        if ref in (p.issuer, p.key):
            return p
    raise NotFound(f"no provider {ref}", code="sso.not_found")


def actor_for_claims(ex: Exchange, p: Provider, claims: Mapping[str, Any]) -> Actor:
    """The user the provider's claims name, under the node's mapping, or AuthError
    ``auth.sso_unmapped`` (a failed sign-in is recorded for a member the claims name)."""
    member_name, user_name = claims.get(p.member_claim), claims.get(p.user_claim)
    d = ex.directory()
    member = next((m for m in d.members.values()
                   if isinstance(member_name, str) and m.name == member_name), None)
    if member is None or member.id not in p.members or not isinstance(user_name, str):
        raise AuthError("this sign-in does not name a user of this node",
                        code="auth.sso_unmapped")

    uid = ex.store.read(lambda sql: stored.live_user_named(sql, member.id, user_name))
    user = ex.store.user_by_id(uid) if uid is not None else None
    if user is None:
        from vigil.signin import audit
        audit.record(ex, member.id, None, "signin.failed",
                     f"auth.sso_unmapped {p.issuer} {p.user_claim}={user_name[:64]}")
        raise AuthError("this sign-in does not name a user of this node",
                        code="auth.sso_unmapped")
    try:
        return ex._actor_of(user, "token")
    except AuthError as exc:
        raise AuthError("this sign-in does not name a user of this node",
                        code="auth.sso_unmapped") from exc


def _expiry(seconds: int) -> str:
    return clock.fmt(datetime.now(UTC) + timedelta(seconds=seconds))


def begin(ex: Exchange, p: Provider) -> tuple[str, Pending]:
    """A new sign-in under way: (state, its nonce and PKCE verifier)."""
    state = secrets.token_urlsafe(32)
    pending = Pending(p.issuer, secrets.token_urlsafe(32), secrets.token_urlsafe(48))

    ex.store.write(lambda sql: stored.insert_pending(
        sql, hash_token(state), p.issuer, pending.nonce, pending.verifier, _expiry(PENDING_TTL),
        clock.now()))
    return state, pending


def finish(ex: Exchange, state: str) -> Pending:
    """The sign-in a state belongs to, used once; AuthError when unknown or stale."""

    row = ex.store.write(lambda sql: stored.take_pending(sql, hash_token(state), clock.now())
                         ) if state else None
    if row is None:
        raise AuthError("this sign-in is unknown or took too long; start again",
                        code="auth.sso_state")
    return Pending(row[0], row[1], row[2])


def _payload(id_token: str) -> dict[str, Any]:
    """The claims of an ID token already verified (``_verify`` in the callback)."""
    try:
        part = id_token.split(".")[1]
        got = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError):
        return {}
    return got if isinstance(got, dict) else {}


def remember(ex: Exchange, session_id: str, issuer: str, id_token: str, ttl: int) -> None:
    """Keep the ID token of a console session opened by SSO, for logging out, with the
    provider's session id (``sid``) and subject (``sub``) a back-channel logout names."""
    claims = _payload(id_token)
    sid, sub = claims.get("sid"), claims.get("sub")
    ex.store.write(lambda sql: stored.insert_sso_session(
        sql, hash_token(session_id), issuer, id_token, _expiry(ttl),
        sid if isinstance(sid, str) else None, sub if isinstance(sub, str) else None))


def end_sessions(ex: Exchange, issuer: str, *, sid: str | None, sub: str | None) -> int:
    """A provider ended a session (back-channel logout): end the console sessions
    opened through it -- those of its session ``sid``, or, when it names only a
    subject, every session of ``sub``. How many ended (recorded per member)."""
    from vigil.signin import audit
    from vigil.signin.users import bump_epoch

    def write(sql: Sql) -> int:
        hashes = stored.sso_session_hashes(sql, issuer, sid, sub)
        for h in hashes:
            user = stored.end_console_session(sql, h)
            if user is not None:
                audit.record_in(sql, str(user[1]), str(user[0]), "signout",
                                f"provider logout {issuer}", "")
        if hashes:
            bump_epoch(sql)
        return len(hashes)

    return ex.store.write(write)


def forget(ex: Exchange, session_id: str) -> tuple[str, str] | None:
    """(issuer, ID token) of an SSO session that is ending, removed from the store."""

    row = ex.store.write(
        lambda sql: stored.take_sso_session(sql, hash_token(session_id), clock.now()))
    return None if row is None else (str(row[0]), str(row[1]))
