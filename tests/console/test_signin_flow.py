"""What every console sign-in method shares (``vigil.web.console.signin_flow``): the
sign-in page with its pre-session CSRF cookie (strict, HttpOnly, kept for ``/signin``
only and reused while it lasts) and a button per OpenID provider of the node; once the
first factor passes, the session opens, its cookie is set, the pre-session cookie is
cleared and the sign-in is recorded."""

from __future__ import annotations

from vigil.signin import audit, sso
from vigil.web.auth import SESSION_COOKIE
from vigil.web.console.deps import PRE_CSRF_COOKIE

from .conftest import Console, csrf_of


def set_cookies(headers: object, name: str) -> list[str]:
    return [v for k, v in headers.multi_items()  # type: ignore[attr-defined]
            if k == "set-cookie" and v.startswith(name + "=")]


def test_the_signin_page_and_its_csrf_cookie(console: Console) -> None:
    c = console.client()
    page = c.get("/signin")
    assert page.status_code == 200
    (cookie,) = set_cookies(page.headers, PRE_CSRF_COOKIE)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/signin" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert csrf_of(page.text) == token
    again = c.get("/signin")
    assert csrf_of(again.text) == token  # the cookie the browser sent back is kept
    assert "idp.example" not in page.text
    sso.add_provider(console.exchange, "https://idp.example", client_id="vigil",
                     client_secret="s3cret", member_claim="org", user_claim="sub",
                     members=[console.id("alpha")])
    with_idp = c.get("/signin")
    assert "https://idp.example" in with_idp.text
    assert sso.providers(console.exchange)[0].key in with_idp.text
    assert "s3cret" not in with_idp.text


def test_a_passed_first_factor_opens_the_session(console: Console) -> None:
    c = console.client()
    page = c.get("/signin")
    r = c.post("/signin", data={"csrf": csrf_of(page.text),
                                "token": console.node.members["bravo"].token})
    assert r.status_code in (200, 303)
    (session,) = set_cookies(r.headers, SESSION_COOKIE)
    assert "HttpOnly" in session and "SameSite=strict" in session
    cleared = set_cookies(r.headers, PRE_CSRF_COOKIE)
    assert cleared and ("Max-Age=0" in cleared[0] or "expires=" in cleared[0].lower())
    events = audit.events(console.exchange, console.id("bravo"))
    assert [e.event for e in events][-1] == "signin"
