"""The scope matrix: every route of the app (REST, TAXII, console) with a token of every
scope answers what the scope allows and nothing more (403 ``auth.scope``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from tests.web.conftest import Api
from tests.web.helpers import GOOD

from vigil.signin.tokens import SCOPES, allows
from vigil.web import scopes
from vigil.web.auth import SESSION_COOKIE, sessions

NEVER_OPENED = {"/api/v1/stream", "/api/v1/correlations/stream"}  # streams do not end
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, with the prefixes of included routers."""
    for r in app.routes:
        contexts = getattr(r, "effective_route_contexts", None)
        found = ([(c.path_format, c.methods) for c in contexts()] if contexts
                 else [(r.path, getattr(r, "methods", None))])  # type: ignore[attr-defined]
        for path, methods in found:
            for method in sorted(methods or ()):
                if method != "HEAD":
                    yield method, path


def code_of(r: object) -> str:
    """The stable error code of an answer: vigil's JSON error or TAXII's error body."""
    try:
        doc = r.json()  # type: ignore[attr-defined]
        return str(doc["error"]["code"] if "error" in doc else doc["error_code"])
    except (ValueError, KeyError, TypeError):
        return ""


@pytest.fixture
def scoped(api: Api) -> dict[str, tuple[str, str]]:
    """A token and a console session of alpha for each scope."""
    got = {}
    for scope in SCOPES:
        _, token = api.exchange.add_user("alpha", f"s-{scope}", scope)
        got[scope] = (token, sessions(api.exchange).create(token).id)
    return got


def test_every_route_answers_each_scope_what_it_allows(api: Api,
                                                       scoped: dict[str, tuple[str, str]]
                                                       ) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    seen = list(routes(app))
    assert len(seen) > 40 and ("POST", "/taxii2/api/collections/{cid}/objects/") in seen
    assert ("POST", "/publish") in seen  # the console's writes too
    denied = 0
    for method, path in seen:
        url = re.sub(r"\{[^}]+\}", "x", path)
        need = scopes.needed(method, path)
        for scope, (token, session) in scoped.items():
            if path in NEVER_OPENED:
                assert need == "read"
                continue
            api.client.cookies.set(SESSION_COOKIE, session)
            r = api.client.request(method, url, headers={"Authorization": f"Bearer {token}"},
                                   json={} if method in WRITES else None)
            api.client.cookies.clear()
            if allows(scope, need):
                assert code_of(r) != "auth.scope", (method, path, scope)
            else:
                denied += 1
                assert (r.status_code, code_of(r)) == (403, "auth.scope"), (method, path, scope)
    assert denied >= 25


def test_every_write_route_is_in_the_table_and_nothing_else_is(api: Api) -> None:
    app = api.client.app
    assert isinstance(app, FastAPI)
    seen = set(routes(app))
    assert {r for r in seen if r[0] in WRITES} <= set(scopes.NEEDS)
    assert set(scopes.NEEDS) <= seen  # no stale entry


def test_an_unlisted_write_needs_admin_and_a_read_needs_read() -> None:
    assert scopes.needed("POST", "/api/v1/new-thing") == "admin"
    assert scopes.needed("GET", "/api/v1/new-thing") == "read"
    assert scopes.needed("HEAD", "/api/v1/users") == "admin"


def test_read_token_cannot_publish_or_change_channels_publish_can_publish(
        api: Api, scoped: dict[str, tuple[str, str]]) -> None:
    read, publish, admin = (scoped[s][0] for s in SCOPES)

    def post(token: str, path: str, **kw: object) -> object:
        return api.client.post(path, headers={"Authorization": f"Bearer {token}"},
                               **kw)  # type: ignore[arg-type]

    r = post(read, "/api/v1/shares", params={"tlp": "amber", "to": "a-b"},
             content=GOOD.encode())
    assert (r.status_code, code_of(r)) == (403, "auth.scope")  # type: ignore[attr-defined]
    r = api.client.get("/api/v1/sent", headers=api.h("alpha"))
    assert r.json().get("shares", r.json().get("entries")) == []
    r = post(publish, "/api/v1/shares", params={"tlp": "amber", "to": "a-b"},
             content=GOOD.encode())
    assert r.status_code == 201  # type: ignore[attr-defined]
    share = r.json()["id"]  # type: ignore[attr-defined]
    r = post(read, f"/api/v1/shares/{share}/recall", json={"reason": "x"})
    assert code_of(r) == "auth.scope"
    body = {"name": "new-ch", "kind": "group", "members": ["bravo"]}
    r = post(publish, "/api/v1/channels", json=body)
    assert (r.status_code, code_of(r)) == (403, "auth.scope")  # type: ignore[attr-defined]
    assert "new-ch" not in {c.name for c in api.exchange.directory().channels.values()}
    r = post(admin, "/api/v1/channels", json=body)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    r = api.client.get("/api/v1/inbox", headers={"Authorization": f"Bearer {read}"})
    assert r.status_code == 200
