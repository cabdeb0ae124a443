"""Scoped, expiring tokens and the member's sign-in events over the API: issuing,
rotating, expiry, and events readable by the member's administrators only."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Api

from vigil import clock
from vigil.signin import tokens
from vigil.signin import users as access


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def admin_of(api: Api, member: str, name: str = "boss") -> str:
    _, token = tokens.issue(api.exchange, member, name, "admin")
    access.set_admin(api.exchange, member, name)
    return token


def events(api: Api, token: str) -> list[dict[str, Any]]:
    r = api.client.get("/api/v1/audit", headers=bearer(token))
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["events"]
    return found


def test_an_expired_token_answers_like_an_unknown_one(api: Api) -> None:
    _, old = api.exchange.add_user("alpha", "old", "read", clock.parse_expiry("2020-01-01"))
    _, live = api.exchange.add_user("alpha", "live", "read", clock.parse_expiry("30d"))
    r = api.client.get("/api/v1/inbox", headers=bearer(old))
    assert (r.status_code, r.json()["error"]["code"]) == (401, "auth.bad_token")
    assert api.client.get("/api/v1/inbox", headers=bearer(live)).status_code == 200


def test_admin_issues_a_scoped_token_and_rotates_it(api: Api) -> None:
    boss = admin_of(api, "alpha")
    r = api.client.post("/api/v1/users", json={"name": "reader", "expires": "90d"},
                        headers=bearer(boss))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["scope"] == "read" and doc["expires"] > clock.now()
    first = doc["token"]
    r = api.client.post("/api/v1/channels", json={"name": "nope", "kind": "group"},
                        headers=bearer(first))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "auth.scope")
    listed = api.client.get("/api/v1/users/reader/tokens", headers=bearer(boss)).json()
    assert [(t["prefix"], t["scope"], t["revoked"]) for t in listed["tokens"]] == [
        (first[:12], "read", False)]
    assert first not in str(listed)
    r = api.client.post("/api/v1/users/reader/rotate", json={"scope": "publish"},
                        headers=bearer(boss))
    assert r.status_code == 200, r.text
    second = r.json()["token"]
    assert api.client.get("/api/v1/inbox", headers=bearer(first)).status_code == 401
    assert api.client.get("/api/v1/inbox", headers=bearer(second)).status_code == 200
    kinds = [e["event"] for e in events(api, boss)]
    assert kinds.count("token.created") == 2 and "token.rotated" in kinds


def test_a_non_admin_cannot_issue_rotate_or_read_events(api: Api) -> None:
    admin_of(api, "alpha")
    _, plain_admin_scope = api.exchange.add_user("alpha", "plain", "admin")  # no admin role
    for method, path, body in (("POST", "/api/v1/users", {"name": "x"}),
                               ("POST", "/api/v1/users/boss/rotate", {}),
                               ("GET", "/api/v1/users/boss/tokens", None),
                               ("GET", "/api/v1/audit", None)):
        r = api.client.request(method, path, json=body, headers=bearer(plain_admin_scope))
        assert r.status_code == 403, (path, r.text)
        r = api.client.request(method, path, json=body, headers=api.h("bravo"))
        assert r.status_code in (403, 404), (path, r.text)
    assert [u.name for u in access.users(api.exchange, "alpha")] == ["analyst", "boss",
                                                                     "plain"]


def test_events_are_the_members_own_and_no_one_elses(api: Api) -> None:
    alpha_boss = admin_of(api, "alpha")
    bravo_boss = admin_of(api, "bravo")
    _, victim = api.exchange.add_user("alpha", "victim", "read")
    wrong = victim[:12] + "A" * (len(victim) - 12)  # the prefix names alpha's user
    assert api.client.get("/api/v1/inbox", headers=bearer(wrong)).status_code == 401
    assert api.client.get("/api/v1/inbox", headers=bearer(victim)).status_code == 200
    access.revoke_user(api.exchange, "alpha", "victim", by="test")
    mine = events(api, alpha_boss)
    assert {"signin.failed", "signin", "token.revoked"} <= {e["event"] for e in mine}
    assert all(wrong not in str(e) and victim not in str(e) for e in mine)
    theirs = events(api, bravo_boss)
    seen_users = {e["user"] for e in theirs}
    alpha_users = {u.id for u in access.users(api.exchange, "alpha")}
    assert not seen_users & alpha_users
    assert all(e["event"] != "signin.failed" for e in theirs)
