"""What every console sign-in method shares: the sign-in page (with a button for each
OpenID provider of the node) and what happens once a first factor has passed."""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from vigil.errors import VigilError
from vigil.model import Actor
from vigil.signin import passkeys, sso
from vigil.web.auth import SESSION_COOKIE, SESSION_TTL, sessions
from vigil.web.console.deps import PRE_CSRF_COOKIE
from vigil.web.console.pages import render
from vigil.web.deps import state_of


def signin_page(request: Request, error: VigilError | None = None, *, status: int = 200
                ) -> HTMLResponse:
    """The sign-in page: the token form (with its pre-session CSRF cookie) and the
    node's OpenID providers."""
    st = state_of(request)
    pre = request.cookies.get(PRE_CSRF_COOKIE) or secrets.token_urlsafe(32)
    providers = [{"key": p.key, "issuer": p.issuer} for p in sso.providers(st.exchange)]
    resp = render(request, "signin.html", status=status, signin_csrf=pre, error=error,
                  providers=providers)
    resp.set_cookie(PRE_CSRF_COOKIE, pre, httponly=True, samesite="strict",
                    secure=request.url.scheme == "https", path="/signin", max_age=3600)
    return resp


async def first_factor_passed(request: Request, actor: Actor, method: str, *,
                              sso_login: tuple[str, str] | None = None) -> Response:
    """Open the console session of a user who signed in with ``method``.

    The answer is a page that moves on to the inbox by itself rather than a redirect:
    a browser coming back from an OpenID provider arrives from another site, and would
    not send the SameSite=Strict session cookie on a redirect that follows it."""
    st = state_of(request)
    if await st.read(passkeys.needed, st.exchange, actor):  # a key is asked for too
        from vigil.web.console.key_pages import to_key_step
        return await to_key_step(request, actor, method, sso_login=sso_login)
    return await open_session(request, actor, method, sso_login=sso_login)


async def open_session(request: Request, actor: Actor, method: str, *,
                       sso_login: tuple[str, str] | None = None) -> Response:
    resp = render(request, "continue.html", next="/", message="Signed in",
                  link="Continue to the inbox")
    await start_session(request, resp, actor, method, sso_login=sso_login)
    return resp


async def start_session(request: Request, resp: Response, actor: Actor, method: str, *,
                        sso_login: tuple[str, str] | None = None) -> None:
    """Open the console session and set its cookie on ``resp`` (recorded)."""
    st = state_of(request)
    address = request.client.host if request.client else ""
    session = await st.write(sessions(st.exchange).open, actor, method, address)
    if sso_login is not None:
        await st.write(sso.remember, st.exchange, session.id, sso_login[0], sso_login[1],
                       SESSION_TTL)
    resp.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="strict",
                    secure=request.url.scheme == "https", path="/")
    resp.delete_cookie(PRE_CSRF_COOKIE, path="/signin")
