"""Console sign-in through a real OpenID provider (the npm package oidc-provider, run by
Node from tests/oidc/) in a real headless Chromium: the code flow with PKCE, a user the
node's mapping does not name, and a logout that ends the provider's session too.

Needs node, tests/oidc/node_modules (``npm ci --prefix tests/oidc``) and Chromium;
skipped without them unless VIGIL_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.signin import audit, passkeys, sso
from vigil.testing import ServerProcess, TestNode, free_port, make_node

from .chromium import VIEWPORT, _missing, authenticator, chromium  # noqa: F401  (the browser fixture)

OIDC_DIR = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID, CLIENT_SECRET = "vigil-console", "a client secret of the test provider"


class Provider:
    def __init__(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.proc = proc


def start_provider(console_url: str, log: Path) -> Provider:
    node = shutil.which("node")
    if node is None or not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        _missing("node or tests/oidc/node_modules is missing (npm ci --prefix tests/oidc)")
    port = free_port()
    env = dict(os.environ, PORT=str(port), CLIENT_ID=CLIENT_ID, CLIENT_SECRET=CLIENT_SECRET,
               REDIRECT_URI=console_url + "/signin/sso/callback",
               POST_LOGOUT_URI=console_url + "/signin",
               # server to server: Node resolves localhost to ::1, the node listens on IPv4
               BACKCHANNEL_URI=console_url.replace("localhost", "127.0.0.1")
               + "/signin/sso/backchannel")
    with open(log, "ab") as logf:  # the child keeps its own descriptor
        proc = subprocess.Popen([str(node), str(OIDC_DIR / "provider.js")], env=env,
                                stdout=logf, stderr=subprocess.STDOUT, cwd=OIDC_DIR)
    p = Provider(port, proc)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"provider exited: {log.read_text(errors='replace')}")
        try:
            if httpx.get(p.issuer + "/.well-known/openid-configuration").status_code == 200:
                return p
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("provider did not start")


@contextmanager
def sso_setup(tmp_path: Path, *, require_keys: bool = False, store: str | None = None
              ) -> Iterator[tuple[TestNode, ServerProcess, Provider]]:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True}, store=store)
    srv = ServerProcess(node.data)
    # the console as localhost (a host name, as WebAuthn needs), the provider as
    # 127.0.0.1: another site, as in a real deployment
    srv.url = srv.url.replace("127.0.0.1", "localhost")
    srv.env["VIGIL_PUBLIC_URL"] = srv.url  # the callback comes from here, not the Host
    prov = start_provider(srv.url, tmp_path / "provider.log")
    try:
        ex = node.exchange()
        sso.add_provider(ex, prov.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         member_claim="vigil_member", user_claim="preferred_username",
                         members=["alpha"], scopes="openid profile")
        passkeys.set_required(ex, "alpha", require_keys)
        ex.store.close()
        with srv:
            yield node, srv, prov
    finally:
        prov.proc.terminate()
        prov.proc.wait(10)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
def sso_node(request: pytest.FixtureRequest, tmp_path: Path
             ) -> Iterator[tuple[TestNode, ServerProcess, Provider]]:
    """A node (SQLite, or a fresh PostgreSQL database) behind a real OpenID provider."""
    store = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with sso_setup(tmp_path, store=store) as got:
        yield got


@pytest.fixture
def sso_keys_node(tmp_path: Path) -> Iterator[tuple[TestNode, ServerProcess, Provider]]:
    """As sso_node, with alpha's users required to use a security key."""
    with sso_setup(tmp_path, require_keys=True) as got:
        yield got


def provider_login(page: Any, issuer: str, login: str) -> None:
    """The provider's own login form (oidc-provider's development interaction)."""
    page.wait_for_url(issuer + "/interaction/**")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.locator("button[type=submit]").click()


@pytest.mark.slow
def test_code_flow_refused_user_and_logout(
        chromium: Any, sso_node: tuple[TestNode, ServerProcess, Provider]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    node, srv, prov = sso_node
    ctx = chromium.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(srv.url + "/signin")
    page.get_by_role("link", name=f"Sign in with {prov.issuer}").click()
    provider_login(page, prov.issuer, "ana")
    page.wait_for_url(srv.url + "/")
    expect(page.locator(".me")).to_contain_text("member:alpha")
    expect(page.locator("#inbox")).to_be_visible()
    # the request to the provider carried a PKCE challenge, a state and a nonce
    auth = next(u for u in seen if u.startswith(prov.issuer + "/auth?"))
    assert all(f"{k}=" in auth for k in ("code_challenge", "state", "nonce"))
    assert "code_challenge_method=S256" in auth
    session = next(c for c in ctx.cookies() if c["name"] == "vigil_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    # the session reads the API as the mapped user (cookie on a safe request)
    r = httpx.get(srv.url + "/api/v1/inbox", cookies={"vigil_session": session["value"]})
    assert r.status_code == 200

    # logout: the console session ends and the provider's session ends too
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(prov.issuer + "/session/end**")
    page.locator("button[autofocus], button[type=submit]").first.click()
    page.wait_for_url(srv.url + "/signin**")
    assert not any(c["name"] == "vigil_session" for c in ctx.cookies())
    r = httpx.get(srv.url + "/api/v1/inbox", cookies={"vigil_session": session["value"]})
    assert r.status_code == 401
    # signing in again needs the provider's login form again (its session ended)
    page.get_by_role("link", name=f"Sign in with {prov.issuer}").click()
    page.wait_for_url(prov.issuer + "/interaction/**")

    # a user the mapping does not name (eve is no user of alpha) is refused
    provider_login(page, prov.issuer, "eve")
    page.wait_for_url(srv.url + "/signin/sso/callback**")
    expect(page.locator("div.error")).to_contain_text("auth.sso_unmapped")
    assert not any(c["name"] == "vigil_session" for c in ctx.cookies())
    ctx.close()

    ex = node.exchange()
    events = audit.events(ex, node.members["alpha"].id)
    assert [e.event for e in events if e.detail == "console sso"] == ["signin"]
    assert any(e.event == "signin.failed" and "auth.sso_unmapped" in e.detail
               for e in events)
    ex.store.close()


@pytest.mark.slow
def test_sso_then_a_required_key_then_logout_at_the_provider(
        chromium: Any, sso_keys_node: tuple[TestNode, ServerProcess, Provider]  # noqa: F811
        ) -> None:
    from playwright.sync_api import expect

    node, srv, prov = sso_keys_node
    ctx = chromium.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    authenticator(ctx, page)
    page.goto(srv.url + "/signin")
    page.get_by_role("link", name=f"Sign in with {prov.issuer}").click()
    provider_login(page, prov.issuer, "ana")
    # the provider is not enough: alpha requires a key, registered now
    page.wait_for_url(srv.url + "/signin/key")
    assert not any(c["name"] == "vigil_session" for c in ctx.cookies())
    page.get_by_role("button", name="Register the key and sign in").click()
    page.wait_for_url(srv.url + "/")
    expect(page.locator(".me")).to_contain_text("member:alpha")
    # the session remembers the provider: signing out ends the provider's session too
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(prov.issuer + "/session/end**")
    ctx.close()
    ex = node.exchange()
    assert ("signin", "console sso+key") in [
        (e.event, e.detail) for e in audit.events(ex, node.members["alpha"].id)]
    ex.store.close()


@pytest.mark.slow
def test_the_provider_ends_the_console_session_back_channel(
        chromium: Any, sso_node: tuple[TestNode, ServerProcess, Provider]) -> None:  # noqa: F811
    """Provider-initiated logout: the user signs out at the provider itself (not through
    the console); the provider posts a signed logout token to the node's back channel
    and the console session ends."""
    from playwright.sync_api import expect

    node, srv, prov = sso_node
    ctx = chromium.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.goto(srv.url + "/signin")
    page.get_by_role("link", name=f"Sign in with {prov.issuer}").click()
    provider_login(page, prov.issuer, "ana")
    page.wait_for_url(srv.url + "/")
    expect(page.locator(".me")).to_contain_text("member:alpha")
    session = next(c for c in ctx.cookies() if c["name"] == "vigil_session")
    cookies = {"vigil_session": session["value"]}
    assert httpx.get(srv.url + "/api/v1/inbox", cookies=cookies).status_code == 200
    # (the store is read only at the end: a second process opening the SQLite file
    # while the server writes is what the test would otherwise exercise)

    # the user ends the session at the provider, in another tab
    other = ctx.new_page()
    other.goto(prov.issuer + "/session/end")
    other.locator("button[autofocus], button[type=submit]").first.click()
    other.wait_for_load_state()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(srv.url + "/api/v1/inbox", cookies=cookies).status_code == 401:
            break
        time.sleep(0.1)
    assert httpx.get(srv.url + "/api/v1/inbox", cookies=cookies).status_code == 401
    page.reload()
    page.wait_for_url(srv.url + "/signin**")
    ctx.close()
    ex = node.exchange()
    assert ("signout", f"provider logout {prov.issuer}") in [
        (e.event, e.detail) for e in audit.events(ex, node.members["alpha"].id)]
    ex.store.close()


def test_backchannel_refuses_what_is_not_a_logout_token(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    from fastapi.testclient import TestClient

    from vigil.bus.local import LocalBus
    from vigil.web import create_app

    ex = node.exchange()
    try:
        with TestClient(create_app(node.settings, exchange=ex, bus=LocalBus())) as http:
            for body in ({}, {"logout_token": "not.a.jwt"},
                         {"logout_token": "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."}):
                r = http.post("/signin/sso/backchannel", data=body)
                assert r.status_code == 400, r.text
                assert r.json()["error"]["code"] == "auth.sso_logout"
                assert r.headers["cache-control"] == "no-store"
    finally:
        ex.store.close()
