"""What every console sign-in method shares (``vigil.web.console.signin_flow``): the
sign-in page with its pre-session CSRF cookie (strict, HttpOnly, kept for ``/signin``
only and reused while it lasts) and a button per OpenID provider of the node, its
secret never shown. (The session a passed first factor opens: tests/console/
test_sso_pages.py and test_key_pages.py.)"""

from __future__ import annotations

from vigil.signin import sso
from vigil.web.console.deps import PRE_CSRF_COOKIE

from .conftest import Console, csrf_of


def set_cookies(headers: object, name: str) -> list[str]:
    return [
        v
        for k, v in headers.multi_items()  # type: ignore[attr-defined]
        if k == "set-cookie" and v.startswith(name + "=")
    ]


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
    sso.add_provider(
        console.exchange,
        "https://idp.example",
        client_id="vigil",
        client_secret="s3cret",
        member_claim="org",
        user_claim="sub",
        members=[console.id("alpha")],
    )
    with_idp = c.get("/signin")
    assert "https://idp.example" in with_idp.text
    assert sso.providers(console.exchange)[0].key in with_idp.text
    assert "s3cret" not in with_idp.text
