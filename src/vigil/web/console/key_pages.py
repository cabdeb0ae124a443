"""Console pages for hardware keys and passkeys (``vigil.signin.passkeys``).

- ``/keys``: a signed-in user lists, registers and removes their own keys;
- ``/signin/key``: the key asked for after a first factor (or, for a member that
  requires keys, the key registered then), before the console session opens;
- ``/signin/passkey``: a key alone, with user verification, from the sign-in page.

The browser's half is ``static/passkeys.js``; JSON posts carry the page's CSRF token in
an ``x-csrf`` header (the session's, or before a session the sign-in page's cookie).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from vigil.errors import AuthError, InputError, NotFound, VigilError
from vigil.model import Actor
from vigil.signin import passkeys
from vigil.web.auth import SESSION_COOKIE
from vigil.web.console.deps import PRE_CSRF_COOKIE, CheckedForm, SignedIn, signed_in
from vigil.web.console.pages import HEADERS, error_page, render, to_signin
from vigil.web.console.signin_flow import signin_page, start_session
from vigil.web.deps import read_body, state_of

router = APIRouter(include_in_schema=False)

STEP_COOKIE = "vigil_key_step"
FIRST_FACTORS = ("token", "sso")  # the sign-ins a key step can follow
MAX_JSON = 64 * 1024


def relying(request: Request) -> passkeys.Relying:
    """The console's origin and RP id, from the node's ``public_url`` only (never the
    request's Host header); ``passkeys.NoPublicUrl`` without it."""
    st = state_of(request)
    return passkeys.relying_party(str(st.settings.values.get("public_url") or ""),
                                  str(st.settings.node_name))


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _json_error(exc: VigilError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=HEADERS)


async def _json_body(request: Request) -> dict[str, Any]:
    raw = await read_body(request, MAX_JSON)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object", code="input.json")
    return body


def _csrf_header(request: Request, expected: str) -> bool:
    got = request.headers.get("x-csrf", "")
    return bool(expected) and bool(got) and hmac.compare_digest(got.encode(),
                                                                 expected.encode())


async def to_key_step(request: Request, actor: Actor, method: str, *,
                      sso_login: tuple[str, str] | None = None) -> Response:
    """A first factor passed: the key comes next (a page that moves on by itself)."""
    st = state_of(request)
    issuer, id_token = sso_login if sso_login else (None, None)
    step = await st.write(passkeys.open_step, st.exchange, actor.user, method,
                          issuer=issuer, id_token=id_token)
    resp = render(request, "continue.html", next="/signin/key",
                  message="Now your security key", link="Continue")
    resp.set_cookie(STEP_COOKIE, step, httponly=True, samesite="strict",
                    secure=request.url.scheme == "https", path="/signin",
                    max_age=passkeys.STEP_TTL)
    return resp


# -- the key after a first factor, or alone -------------------------------------------

@router.get("/signin/key")
async def key_step_page(request: Request) -> Response:
    st = state_of(request)
    ex = st.exchange
    step = await st.read(passkeys.peek, ex, request.cookies.get(STEP_COOKIE, ""))
    if step is None or step.user is None:
        return await st.read(signin_page, request, AuthError(
            "sign in first; the key is asked for after", code="auth.key_step"), status=401)
    register = not await st.read(passkeys.keys, ex, step.user)
    try:
        rp = relying(request)
    except passkeys.NoPublicUrl as exc:
        return await st.read(signin_page, request, exc, status=exc.status)
    options = await st.read(passkeys.registration_options if register
                            else passkeys.authentication_options, ex, step, rp)
    pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    resp = render(request, "key-step.html", register=register, options=options,
                  signin_csrf=pre)
    resp.set_cookie(PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict",
                    secure=request.url.scheme == "https", path="/signin", max_age=3600)
    return resp


@router.post("/signin/passkey")
async def passkey_options(request: Request) -> Response:
    """A key alone: a new step and its options (any passkey of this node)."""
    st = state_of(request)
    if not _csrf_header(request, request.cookies.get(PRE_CSRF_COOKIE, "")):
        return _json_error(VigilError("the CSRF token is missing or stale; reload the page",
                                      code="auth.csrf", status=403))
    try:
        rp = relying(request)
    except passkeys.NoPublicUrl as exc:
        return _json_error(exc)
    step_id = await st.write(passkeys.open_step, st.exchange, None, "passkey")
    step = await st.read(passkeys.peek, st.exchange, step_id)
    assert step is not None
    options = await st.read(passkeys.authentication_options, st.exchange, step, rp)
    return JSONResponse({"step": step_id, "options": orjson.loads(options)}, headers=HEADERS)


@router.post("/signin/key")
async def key_step(request: Request) -> Response:
    st = state_of(request)
    ex = st.exchange
    if not _csrf_header(request, request.cookies.get(PRE_CSRF_COOKIE, "")):
        return _json_error(VigilError("the CSRF token is missing or stale; reload the page",
                                      code="auth.csrf", status=403))
    try:
        body = await _json_body(request)
        step_id = request.cookies.get(STEP_COOKIE) or str(body.get("step") or "")
        step = await st.read(passkeys.peek, ex, step_id)
        rp = relying(request)
        if step is not None and step.user is not None and step.method in FIRST_FACTORS \
                and not await st.read(passkeys.keys, ex, step.user):
            # a member that requires keys: this user registers one now
            await st.write(passkeys.register, ex, step_id, step.user, body.get("credential"),
                           str(body.get("name") or ""), rp, _address(request),
                           methods=FIRST_FACTORS)
            user = ex.store.user_by_id(step.user)
            if user is None:
                raise AuthError("unknown or revoked user", code="auth.bad_key")
            actor = await st.read(ex._actor_of, user, "token")
        else:
            actor, taken = await st.write(passkeys.authenticate, ex, step_id,
                                          body.get("credential"), rp, _address(request))
            step = taken
    except (AuthError, InputError, passkeys.NoPublicUrl) as exc:
        resp = _json_error(exc)
        resp.delete_cookie(STEP_COOKIE, path="/signin")
        return resp
    assert step is not None
    sso_login = (step.issuer, step.id_token) if step.issuer and step.id_token else None
    method = "passkey" if step.method == "passkey" else f"{step.method}+key"
    resp = JSONResponse({"next": "/"}, headers=HEADERS)
    await start_session(request, resp, actor, method, sso_login=sso_login)
    resp.delete_cookie(STEP_COOKIE, path="/signin")
    return resp


# -- the user's own keys ----------------------------------------------------------------

@router.get("/keys")
async def keys_page(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    if who.actor.user is None:
        return to_signin()
    ex = st.exchange
    try:
        rp = relying(request)
    except passkeys.NoPublicUrl as exc:
        return error_page(request, who, exc)
    step_id = await st.write(passkeys.open_step, ex, who.actor.user, "register")
    step = await st.read(passkeys.peek, ex, step_id)
    assert step is not None
    options = await st.read(passkeys.registration_options, ex, step, rp)
    return render(request, "keys.html", who=who, step=step_id, options=options,
                  keys=await st.read(passkeys.keys, ex, who.actor.user),
                  required=await st.read(passkeys.required, ex, who.actor.member))


@router.post("/keys")
async def add_key(request: Request) -> Response:
    st = state_of(request)
    who = await signed_in(request)
    if who is None or who.actor.user is None:
        return _json_error(AuthError("sign in first", code="auth.required"))
    if not _csrf_header(request, who.session.csrf):
        return _json_error(VigilError("the CSRF token is missing or stale; reload the page",
                                      code="auth.csrf", status=403))
    try:
        body = await _json_body(request)
        await st.write(passkeys.register, st.exchange, str(body.get("step") or ""),
                       who.actor.user, body.get("credential"), str(body.get("name") or ""),
                       relying(request), _address(request))
    except (AuthError, InputError, passkeys.NoPublicUrl) as exc:
        return _json_error(exc)
    return JSONResponse({"next": "/keys"}, headers=HEADERS)


@router.post("/keys/{key_id}/remove")
async def remove_key(request: Request, key_id: str, who: SignedIn, form: CheckedForm
                     ) -> Response:
    st = state_of(request)
    if who.actor.user is None:
        return to_signin()
    try:
        await st.write(passkeys.remove, st.exchange, who.actor.user, key_id,
                       _address(request))
    except (NotFound, AuthError) as exc:
        return error_page(request, who, exc)
    return RedirectResponse("/keys", status_code=303, headers=HEADERS)


__all__ = ["SESSION_COOKIE", "router", "to_key_step"]
