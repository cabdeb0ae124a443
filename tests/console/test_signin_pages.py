"""Signing in to the console with a token (the session cookie, its flags) and out."""

from __future__ import annotations

from vigil.web.auth import SESSION_COOKIE

from .conftest import Console, csrf_of, publish


def test_signin_sets_strict_httponly_cookie_and_signout_clears_it(console: Console) -> None:
    c = console.client()
    assert c.get("/").headers["location"] == "/signin"
    page = c.get("/signin")
    assert page.status_code == 200 and 'type="password"' in page.text
    bad = c.post("/signin", data={"csrf": csrf_of(page.text), "token": "vgl_nope"})
    assert bad.status_code == 401 and "auth.bad_token" in bad.text
    r = c.post("/signin", data={"csrf": csrf_of(page.text),
                                "token": console.node.members["bravo"].token})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(v for k, v in r.headers.multi_items()
                  if k == "set-cookie" and v.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert console.node.members["bravo"].token not in cookie
    home = c.get("/")
    assert home.status_code == 200 and "member:bravo" in home.text
    assert "default-src 'none'" in home.headers["content-security-policy"]
    out = c.post("/signout", data={"csrf": csrf_of(home.text)})
    assert out.status_code == 303
    c.cookies.clear()
    assert c.get("/").status_code == 303


def test_cookie_authenticates_the_stream_and_gets_but_not_api_writes(console: Console) -> None:
    b = console.sign_in("bravo")
    me = b.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["member"]["name"] == "bravo"
    r = b.post("/api/v1/preview", json={"tlp": "amber", "to": ["a-b"]})
    assert r.status_code == 401  # a cookie never authorises an API write (no CSRF there)
    assert console.client().get("/api/v1/me").status_code == 401
    sid = publish(console, "alpha", ["a-b"])
    with b.stream("GET", "/api/v1/stream") as s:
        assert s.status_code == 200
        for line in s.iter_lines():
            if line.startswith("data:"):
                assert sid in line
                break
