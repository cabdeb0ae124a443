"""Console sign-in through an OpenID provider: authorization code with PKCE (Authlib).

``/signin/sso/{key}`` starts a sign-in: a random state (bound to the browser by an
HttpOnly cookie and kept hashed in the store with the nonce and the PKCE verifier) and
a redirect to the provider. ``/signin/sso/callback`` takes the provider's answer once:
the state must match the cookie, the code is exchanged with the client's secret and the
verifier, and the ID token is checked (signature against the provider's published keys,
issuer, audience, expiry, nonce, at_hash). Its claims (and the provider's userinfo for
claims the ID token leaves out, for the same subject) go through the node's mapping
(``vigil.signin.sso``); a user the mapping does not name is refused. Signing out of a session
opened this way also sends the browser to the provider's ``end_session_endpoint`` when
it has one (RP-initiated logout), so the provider's session ends too; and when the
provider's session ends first, its back-channel logout token ends the console sessions
(``/signin/sso/backchannel``). The callback and logout addresses come from the node's
``public_url``, never from the request's Host header.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oidc.core import CodeIDToken
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from vigil.errors import AuthError, NotFound, VigilError
from vigil.signin import sso
from vigil.web.auth import SESSION_COOKIE, SESSION_TTL
from vigil.web.console.signin_flow import first_factor_passed, signin_page
from vigil.web.deps import read_body, state_of

router = APIRouter(include_in_schema=False)
log = logging.getLogger("vigil.sso")

STATE_COOKIE = "vigil_sso_state"
CALLBACK = "/signin/sso/callback"
METADATA_TTL = 300.0
TIMEOUT = 10.0
_metadata: dict[str, tuple[float, dict[str, Any], dict[str, Any]]] = {}


class ProviderError(VigilError):
    code = "sso.provider"
    status = 502


async def metadata(issuer: str, *, fresh: bool = False) -> tuple[dict[str, Any],
                                                                   dict[str, Any]]:
    """The provider's discovery document and key set (cached for a few minutes)."""
    got = _metadata.get(issuer)
    if got is not None and not fresh and time.monotonic() - got[0] < METADATA_TTL:
        return got[1], got[2]
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT) as client:
            r = await client.get(issuer + "/.well-known/openid-configuration")
            r.raise_for_status()
            meta = r.json()
            if not isinstance(meta, dict) or meta.get("issuer") != issuer:
                raise ProviderError("the provider's discovery names another issuer")
            r = await client.get(str(meta["jwks_uri"]))
            r.raise_for_status()
            jwks = r.json()
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise ProviderError(f"the OpenID provider cannot be reached: {exc}") from None
    _metadata[issuer] = (time.monotonic(), meta, jwks)
    return meta, jwks


class NoPublicUrl(VigilError):
    code = "sso.no_public_url"
    status = 503


def base_url(request: Request) -> str:
    """The console's address as the node's configuration names it (``public_url``):
    the callback and logout addresses sent to a provider never come from the request's
    Host header, which a client chooses."""
    public = str(state_of(request).settings.values.get("public_url") or "").rstrip("/")
    if not public:
        raise NoPublicUrl("single sign-on needs the node's public_url (vigil.toml or "
                          "VIGIL_PUBLIC_URL): the address the provider sends browsers back to")
    return public


def oauth_client(p: sso.Provider, request: Request) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(client_id=p.client_id, client_secret=p.client_secret,
                             scope=p.scopes, redirect_uri=base_url(request) + CALLBACK,
                             code_challenge_method="S256", timeout=TIMEOUT)


def refused(request: Request, exc: VigilError) -> Response:
    resp = signin_page(request, exc, status=exc.status)
    resp.delete_cookie(STATE_COOKIE, path="/signin/sso")
    return resp


@router.get(CALLBACK, response_class=HTMLResponse)
async def sso_callback(request: Request) -> Response:
    st = state_of(request)
    ex = st.exchange
    q = request.query_params
    state, cookie = q.get("state", ""), request.cookies.get(STATE_COOKIE, "")
    try:
        if not state or not hmac.compare_digest(state.encode(), cookie.encode()):
            raise AuthError("this sign-in did not start in this browser; start again",
                            code="auth.sso_state")
        pending = await st.write(sso.finish, ex, state)
        p = await st.read(sso.provider, ex, pending.issuer)
        if q.get("error"):
            raise AuthError(f"the provider refused: {q.get('error', '')[:100]}",
                            code="auth.sso_refused")
        if q.get("iss", p.issuer) != p.issuer:  # RFC 9207
            raise AuthError("the answer comes from another issuer", code="auth.sso_token")
        code = q.get("code", "")
        if not code:
            raise AuthError("the provider sent no code", code="auth.sso_token")
        claims, id_token = await _claims(request, p, code, pending)
        actor = await st.write(sso.actor_for_claims, ex, p, claims)
    except (AuthError, NotFound, ProviderError, NoPublicUrl) as exc:
        return refused(request, exc)
    resp = await first_factor_passed(request, actor, "sso", sso_login=(p.issuer, id_token))
    resp.delete_cookie(STATE_COOKIE, path="/signin/sso")
    return resp


async def _claims(request: Request, p: sso.Provider, code: str, pending: sso.Pending
                  ) -> tuple[dict[str, Any], str]:
    meta, jwks = await metadata(p.issuer)
    async with oauth_client(p, request) as client:
        try:
            token = await client.fetch_token(meta["token_endpoint"], code=code,
                                             code_verifier=pending.verifier)
        except Exception as exc:  # Authlib raises its OAuthError or httpx's errors
            raise AuthError(f"the provider did not accept the code: {exc}",
                            code="auth.sso_token") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise AuthError("the provider sent no ID token", code="auth.sso_token")
        claims = _verify(p, meta, jwks, token, pending.nonce)
        missing = {p.member_claim, p.user_claim} - set(claims)
        if missing and meta.get("userinfo_endpoint"):
            try:
                r = await client.get(str(meta["userinfo_endpoint"]))
                r.raise_for_status()
                info = r.json()
            except (httpx.HTTPError, ValueError):
                info = {}
            if isinstance(info, dict) and info.get("sub") == claims.get("sub"):
                claims = {**info, **claims}
    return claims, id_token


def _verify(p: sso.Provider, meta: dict[str, Any], jwks: dict[str, Any],
            token: dict[str, Any], nonce: str) -> dict[str, Any]:
    algs = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    algs = [a for a in algs if a != "none"]
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        decoded = jwt.decode(token["id_token"], keys, registry=JWSRegistry(algorithms=algs))
        claims = CodeIDToken(decoded.claims, decoded.header,
                             {"iss": {"values": [p.issuer]}},
                             {"nonce": nonce, "client_id": p.client_id,
                              "access_token": token.get("access_token")})
        claims.validate(leeway=60)
    except (JoseError, ValueError) as exc:
        raise AuthError(f"the ID token does not verify: {exc}", code="auth.sso_token") from None
    except Exception as exc:  # Authlib's claim errors
        raise AuthError(f"the ID token does not verify: {exc}", code="auth.sso_token") from None
    return dict(claims)


BACKCHANNEL = "/signin/sso/backchannel"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_AGE = 300  # seconds a logout token is taken after its iat


@router.post(BACKCHANNEL)
async def sso_backchannel(request: Request) -> Response:
    """OpenID Connect Back-Channel Logout 1.0: the provider posts a signed logout token
    (``logout_token``, form-encoded) when a user's session ends there; the console
    sessions opened through that session (``sid``), or of that subject (``sub``), end.
    No cookie and no credential: the token's signature, issuer and audience are the
    proof. 200 when taken, 400 ``auth.sso_logout`` otherwise (as the spec asks)."""
    st = state_of(request)
    headers = {"cache-control": "no-store"}
    try:
        raw = await read_body(request, 64 * 1024)
        token = dict(parse_qsl(raw.decode("utf-8", "replace"))).get("logout_token")
        if not isinstance(token, str) or not token:
            raise AuthError("no logout_token", code="auth.sso_logout")
        issuer, sid, sub = await _logout_claims(request, token)
        n = await st.write(sso.end_sessions, st.exchange, issuer, sid=sid, sub=sub)
    except (AuthError, ProviderError) as exc:
        log.warning("back-channel logout refused: %s", exc.message)
        return Response(orjson_dumps({"error": exc.to_dict()}), status_code=400,
                        media_type="application/json", headers=headers)
    log.info("back-channel logout from %s ended %d console session(s)", issuer, n)
    return Response(status_code=200, headers=headers)


def orjson_dumps(obj: Any) -> bytes:
    import orjson

    return orjson.dumps(obj)


async def _logout_claims(request: Request, token: str) -> tuple[str, str | None, str | None]:
    st = state_of(request)
    try:
        unverified = sso._payload(token)
        p = await st.read(sso.provider, st.exchange, str(unverified.get("iss", "")))
    except NotFound:
        raise AuthError("a logout token from an unknown issuer",
                        code="auth.sso_logout") from None
    meta, jwks = await metadata(p.issuer)
    algs = [a for a in meta.get("id_token_signing_alg_values_supported") or ["RS256"]
            if a != "none"]
    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        decoded = jwt.decode(token, keys, registry=JWSRegistry(algorithms=algs))
    except (JoseError, ValueError) as exc:
        raise AuthError(f"the logout token does not verify: {exc}",
                        code="auth.sso_logout") from None
    c = decoded.claims
    aud = c.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    now = time.time()
    events = c.get("events")
    sid, sub = c.get("sid"), c.get("sub")
    iat, exp = c.get("iat"), c.get("exp")
    problems = {
        "iss": c.get("iss") != p.issuer,
        "aud": p.client_id not in auds,
        "iat": not isinstance(iat, int | float) or abs(now - float(iat)) > LOGOUT_TOKEN_AGE,
        "exp": "exp" in c and (not isinstance(exp, int | float) or float(exp) < now - 60),
        "jti": not isinstance(c.get("jti"), str),
        "events": not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT),
                                                                 dict),
        "nonce": "nonce" in c,
        "sid/sub": not (isinstance(sid, str) or isinstance(sub, str)),
    }
    bad = [name for name, wrong in problems.items() if wrong]
    if bad:
        raise AuthError(f"the logout token is not one: {', '.join(bad)}",
                        code="auth.sso_logout")
    return p.issuer, sid if isinstance(sid, str) else None, \
        sub if isinstance(sub, str) else None


@router.get("/signin/sso/{key}")
async def sso_start(request: Request, key: str) -> Response:
    st = state_of(request)
    try:
        p = await st.read(sso.provider, st.exchange, key)
        meta, _ = await metadata(p.issuer)
        base_url(request)
    except (NotFound, ProviderError, NoPublicUrl) as exc:
        return refused(request, exc)
    state, pending = await st.write(sso.begin, st.exchange, p)
    async with oauth_client(p, request) as client:
        url, _ = client.create_authorization_url(
            str(meta["authorization_endpoint"]), state=state, nonce=pending.nonce,
            code_verifier=pending.verifier)
    resp = RedirectResponse(url, status_code=303, headers={"cache-control": "no-store"})
    # Lax: the provider sends the browser back with a top-level GET from another site
    resp.set_cookie(STATE_COOKIE, state, httponly=True, samesite="lax",
                    secure=request.url.scheme == "https", path="/signin/sso",
                    max_age=sso.PENDING_TTL)
    return resp


async def logout_url(request: Request, session_id: str) -> str | None:
    """Where a signing-out browser goes to end its provider session, if anywhere."""
    st = state_of(request)
    got = await st.write(sso.forget, st.exchange, session_id)
    if got is None:
        return None
    issuer, id_token = got
    try:
        p = await st.read(sso.provider, st.exchange, issuer)
        meta, _ = await metadata(issuer)
        back = base_url(request) + "/signin"
    except (NotFound, ProviderError, NoPublicUrl):
        return None
    end = meta.get("end_session_endpoint")
    if not isinstance(end, str) or not end.startswith(("https://", "http://")):
        return None
    query = urlencode({"id_token_hint": id_token, "client_id": p.client_id,
                       "post_logout_redirect_uri": back})
    return end + ("&" if "?" in end else "?") + query


__all__ = ["SESSION_COOKIE", "SESSION_TTL", "logout_url", "router"]
