"""The console's dependencies: a page needs a session, a POST its CSRF token."""

from __future__ import annotations

import re
from typing import get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from vigil.web.auth import SESSION_COOKIE
from vigil.web.console.deps import CheckedForm, SignedIn

from .conftest import Console


def test_signin_and_posts_refuse_a_missing_or_wrong_csrf_token(console: Console) -> None:
    c = console.client()
    c.get("/signin")
    r = c.post("/signin", data={"csrf": "forged", "token": console.node.members["bravo"].token})
    assert r.status_code == 403 and "auth.csrf" in r.text
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    b = console.sign_in("bravo")
    for path, data in (("/publish", {"content": "198.51.100.1", "tlp": "amber", "channel": "a-b",
                                     "action": "send"}),
                       ("/signout", {})):
        r = b.post(path, data=data)
        assert r.status_code == 403 and "auth.csrf" in r.text
        r = b.post(path, data={**data, "csrf": "x" * 43})
        assert r.status_code == 403
    assert list(console.exchange.sent(console.id("bravo"))) == []
    assert b.get("/").status_code == 200  # still signed in


# Console routes that take no session: the assets, the sign-in steps (before a session
# exists), and the passkey registration call, which answers JSON (401) itself.
PUBLIC = {
    ("GET", "/static/console/{name}"), ("GET", "/signin"), ("POST", "/signin"),
    ("GET", "/signin/sso/callback"), ("POST", "/signin/sso/backchannel"),
    ("GET", "/signin/sso/{key}"), ("GET", "/signin/key"), ("POST", "/signin/passkey"),
    ("POST", "/signin/key"), ("POST", "/keys"),
}


def _dependency(alias: object) -> object:
    return get_args(alias)[1].dependency


def _calls(dependant: Dependant) -> set[object]:
    """Every dependency a route resolves, sub-dependencies included."""
    out = set()
    for d in dependant.dependencies:
        out.add(d.call)
        out |= _calls(d)
    return out


def console_routes(app: FastAPI) -> list[tuple[str, str, set[object]]]:
    """(method, path, the dependencies it resolves) of every console route."""
    out = []
    for r in app.routes:
        contexts = getattr(r, "effective_route_contexts", None)
        for c in contexts() if contexts else ():
            if not c.endpoint.__module__.startswith("vigil.web.console."):
                continue
            for method in sorted(c.methods or ()):
                if method != "HEAD":
                    out.append((method, c.path_format, _calls(c.dependant)))
    return out


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_console_page_takes_its_user_from_the_one_dependency(
        console: Console) -> None:
    """No handler signs its user in by hand: each takes ``SignedIn`` (and each POST its
    form from ``CheckedForm``), or is one of the few that need no session."""
    routes = console_routes(console.app)
    assert len(routes) > 30
    signed, checked = _dependency(SignedIn), _dependency(CheckedForm)
    by_hand = sorted((m, p) for m, p, calls in routes
                     if signed not in calls and (m, p) not in PUBLIC)
    assert by_hand == []
    unchecked = sorted((m, p) for m, p, calls in routes
                       if m == "POST" and signed in calls and checked not in calls)
    assert unchecked == []
    assert sorted(PUBLIC - {(m, p) for m, p, _ in routes}) == []  # the list stays true


def test_without_a_session_every_page_goes_to_sign_in(console: Console) -> None:
    c = console.client()
    pages = [(m, p) for m, p, calls in console_routes(console.app)
             if _dependency(SignedIn) in calls]
    for method, path in pages:
        r = c.request(method, _url(path), data={"csrf": "x"} if method == "POST" else None)
        assert (r.status_code, r.headers.get("location")) == (303, "/signin"), (method, path)


def test_with_a_session_every_post_refuses_a_stale_csrf_token(console: Console) -> None:
    b = console.sign_in("alpha")
    posts = [p for m, p, calls in console_routes(console.app)
             if m == "POST" and _dependency(CheckedForm) in calls]
    assert "/publish" in posts and "/signout" in posts
    for path in posts:
        r = b.post(_url(path), data={"csrf": "x" * 43})
        assert r.status_code == 403 and "auth.csrf" in r.text, path
    assert b.get("/").status_code == 200  # still signed in: /signout did nothing either
