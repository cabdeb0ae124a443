"""Signing in to the console with a token, and signing out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.errors import AuthError
from vigil.signin import audit, passkeys
from vigil.web.auth import SESSION_COOKIE, sessions
from vigil.web.console.deps import (
    PRE_CSRF_COOKIE,
    CheckedForm,
    SignedIn,
    csrf_ok,
    csrf_refused,
    read_form,
)
from vigil.web.console.pages import (
    HEADERS,
    render,
    to_signin,
)
from vigil.web.deps import state_of
from vigil.web.throttle import COUNTED, Throttled

router = APIRouter(include_in_schema=False)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


# -- sign-in ------------------------------------------------------------------------

@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request) -> Response:
    from vigil.web.console.signin_flow import signin_page
    return await state_of(request).read(signin_page, request)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    from vigil.web.console.signin_flow import signin_page
    st = state_of(request)
    form = await read_form(request, st)
    if not csrf_ok(request.cookies.get(PRE_CSRF_COOKIE, ""), form):
        return csrf_refused(request, None)
    token = form.get("token").strip()
    address = request.client.host if request.client else ""
    keys = st.throttle.keys(address or None, token)
    try:
        st.throttle.check(keys)
        actor = await st.read(st.exchange.authenticate, token)
    except Throttled as exc:
        page = await st.read(signin_page, request, exc, status=exc.status)
        page.headers.update(exc.headers)
        return page
    except AuthError as exc:
        if exc.code in COUNTED:
            st.throttle.failed(keys, exc.code)
            await st.write(audit.failed, st.exchange, token, exc.code, address)
        return await st.read(signin_page, request, exc, status=401)
    if await st.read(passkeys.needed, st.exchange, actor):  # a key is asked for too
        from vigil.web.console.key_pages import to_key_step
        return await to_key_step(request, actor, "token")
    session = await st.write(sessions(st.exchange).create, token, address)
    done = RedirectResponse("/", status_code=303, headers=HEADERS)
    done.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="strict",
                    secure=_secure(request), path="/")
    done.delete_cookie(PRE_CSRF_COOKIE, path="/signin")
    return done


@router.post("/signout")
async def signout(request: Request, who: SignedIn, form: CheckedForm) -> Response:
    st = state_of(request)
    from vigil.web.console.sso_pages import logout_url
    end = await logout_url(request, who.session.id)  # the provider's too, for SSO
    await st.write(sessions(st.exchange).drop, who.session.id)
    # to the provider by a page, not a redirect: the form-action CSP forbids the latter
    resp = to_signin() if end is None else render(
        request, "continue.html", next=end, message="Signed out of the console",
        link="Sign out of the identity provider too")
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return resp


