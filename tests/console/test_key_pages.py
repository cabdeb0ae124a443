"""Security keys and passkeys in a real headless Chromium with its virtual authenticator
(the DevTools protocol's WebAuthn domain, through Playwright): registration, the key as
a second factor, a passkey alone, a refused unknown key, a member that requires keys,
and removal. Skipped without Chromium unless VIGIL_REQUIRE_SERVICES=1."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vigil.signin import audit, passkeys
from vigil.testing import ServerProcess, TestNode, make_node
from vigil.web.console.deps import PRE_CSRF_COOKIE

from .chromium import VIEWPORT, authenticator, chromium  # noqa: F401  (the browser fixture)


@pytest.fixture
def key_node(tmp_path: Path) -> Iterator[tuple[TestNode, str]]:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    passkeys.set_required(ex, "bravo", True)
    ex.store.close()
    srv = ServerProcess(node.data)
    # WebAuthn needs a host name for its RP id, not an IP address; the relying party
    # comes from public_url only
    srv.url = srv.url.replace("127.0.0.1", "localhost")
    srv.env["VIGIL_PUBLIC_URL"] = srv.url
    with srv:
        yield node, srv.url


def token_sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url + "/signin")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_out(page: Any, url: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(url + "/signin")


@pytest.mark.slow
def test_register_second_factor_passkey_alone_refusal_and_removal(
        chromium: Any, key_node: tuple[TestNode, str]) -> None:  # noqa: F811
    from playwright.sync_api import expect

    node, url = key_node
    alpha, bravo = node.members["alpha"], node.members["bravo"]
    ctx = chromium.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    cdp, auth_id = authenticator(ctx, page)

    # a Host header the client chooses does not choose the relying party
    with httpx.Client(base_url=url, headers={"host": "evil.example"}) as http:
        pre = http.get("/signin").cookies[PRE_CSRF_COOKIE]
        got = http.post("/signin/passkey", json={}, headers={"x-csrf": pre})
        assert got.json()["options"]["rpId"] == "localhost", got.text

    # alpha has no key and no policy: the token alone opens the console; a key is added
    token_sign_in(page, url, alpha.token)
    page.wait_for_url(url + "/")
    page.get_by_role("link", name="Keys").click()
    expect(page.get_by_text("No key yet.")).to_be_visible()
    page.get_by_label("Name of the key").fill("desk key")
    page.get_by_role("button", name="Add a security key").click()
    expect(page.locator("tr[data-key]")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("desk key")
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})
               ["credentials"]) == 1
    sign_out(page, url)

    # now the token is not enough: the key is asked for, then the console opens
    token_sign_in(page, url, alpha.token)
    page.wait_for_url(url + "/signin/key")
    assert not any(c["name"] == "vigil_session" for c in ctx.cookies())
    page.get_by_role("button", name="Use my security key").click()
    page.wait_for_url(url + "/")
    expect(page.locator(".me")).to_contain_text("member:alpha")
    sign_out(page, url)

    # the passkey alone (user verification by the authenticator), no token at all
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(url + "/")
    expect(page.locator(".me")).to_contain_text("member:alpha")
    sign_out(page, url)

    # a key the node does not know is refused, and no session opens
    other = chromium.new_context(viewport=VIEWPORT)
    op = other.new_page()
    ocdp, oauth = authenticator(other, op)
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    ocdp.send("WebAuthn.addCredential", {"authenticatorId": oauth, "credential": {
        "credentialId": base64.b64encode(os.urandom(16)).decode(),
        "isResidentCredential": True, "rpId": "localhost",
        "privateKey": base64.b64encode(der).decode(),
        "userHandle": base64.b64encode(alpha.id.encode()).decode(), "signCount": 0}})
    op.goto(url + "/signin")
    op.get_by_role("button", name="Use a passkey").click()
    expect(op.locator("#key-status")).to_contain_text("auth.bad_key")
    assert op.url == url + "/signin"
    assert not any(c["name"] == "vigil_session" for c in other.cookies())

    # bravo's member requires keys: bravo registers one after the token, then is in
    token_sign_in(op, url, bravo.token)
    op.wait_for_url(url + "/signin/key")
    op.get_by_role("button", name="Register the key and sign in").click()
    op.wait_for_url(url + "/")
    expect(op.locator(".me")).to_contain_text("member:bravo")
    other.close()

    # alpha removes its key: the token alone opens the console again
    token_sign_in(page, url, alpha.token)
    page.get_by_role("button", name="Use my security key").click()
    page.wait_for_url(url + "/")
    page.goto(url + "/keys")
    page.get_by_role("button", name="Remove desk key").click()
    expect(page.get_by_text("No key yet.")).to_be_visible()
    sign_out(page, url)
    token_sign_in(page, url, alpha.token)
    page.wait_for_url(url + "/")
    ctx.close()

    ex = node.exchange()
    events = [(e.event, e.detail) for e in audit.events(ex, alpha.id)]
    assert ("key.added", "key desk key") in events and ("key.removed", "key desk key") in events
    assert ("signin", "console token+key") in events
    assert ("signin", "console passkey") in events
    ex.store.close()
