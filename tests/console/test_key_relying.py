"""The passkey relying party (origin and RP id) comes from the node's ``public_url``,
never from the Host header a client sends; without ``public_url`` every key ceremony
is refused with ``passkey.no_public_url``. (The ceremonies themselves, in Chromium, are
test_key_pages.py.)"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.signin import passkeys
from vigil.testing import TestNode
from vigil.web import create_app
from vigil.web.console.deps import PRE_CSRF_COOKIE
from vigil.web.console.key_pages import STEP_COOKIE

from .conftest import CSRF_RE

FORGED = {"host": "evil.example"}
OPTIONS_RE = re.compile(r'data-options="([^"]+)"')


@pytest.fixture(params=["https://console.example", ""], ids=["public_url", "none"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestNode, Any, str]]:
    node, ex = four_member_exchange(tmp_path / "node")
    settings = node.settings.with_overrides(public_url=request.param)
    passkeys.set_required(ex, "bravo", True)
    with TestClient(create_app(settings, exchange=ex, bus=LocalBus()),
                    follow_redirects=False) as c:
        yield node, c, str(request.param)
    ex.store.close()


def signin(c: TestClient, token: str) -> None:
    page = c.get("/signin", headers=FORGED)
    m = CSRF_RE.search(page.text)
    assert m is not None
    r = c.post("/signin", data={"csrf": m.group(1), "token": token}, headers=FORGED)
    assert r.status_code in (200, 303), r.text


def options_in(page: str) -> dict[str, Any]:
    m = OPTIONS_RE.search(page)
    assert m is not None, page
    got = json.loads(html.unescape(m.group(1)))
    assert isinstance(got, dict)
    return got


def test_a_forged_host_header_does_not_choose_the_relying_party(
        app: tuple[TestNode, TestClient, str]) -> None:
    node, c, public = app
    c.get("/signin", headers=FORGED)
    pre = c.cookies.get(PRE_CSRF_COOKIE)
    assert pre
    # a passkey alone, from the sign-in page
    r = c.post("/signin/passkey", json={}, headers={**FORGED, "x-csrf": pre})
    if public:
        assert r.status_code == 200, r.text
        assert r.json()["options"]["rpId"] == "console.example"
    else:
        assert (r.status_code, r.json()["code"]) == (503, "passkey.no_public_url"), r.text
        assert "public_url" in r.json()["message"]

    # the key after a first factor: bravo's member requires keys, so it registers one
    signin(c, node.members["bravo"].token)
    assert c.cookies.get(STEP_COOKIE)
    r = c.get("/signin/key", headers=FORGED)
    if public:
        assert r.status_code == 200, r.text
        assert options_in(r.text)["rp"]["id"] == "console.example"
    else:
        assert r.status_code == 503 and "passkey.no_public_url" in r.text
        r = c.post("/signin/key", json={"credential": {}}, headers={**FORGED, "x-csrf": pre})
        assert (r.status_code, r.json()["code"]) == (503, "passkey.no_public_url")
        assert "vigil_session" not in c.cookies

    # the Keys page of a signed-in user (alpha: no key, no policy)
    c.cookies.clear()
    signin(c, node.members["alpha"].token)
    r = c.get("/keys", headers=FORGED)
    if public:
        assert r.status_code == 200, r.text
        assert options_in(r.text)["rp"]["id"] == "console.example"
    else:
        assert r.status_code == 503 and "passkey.no_public_url" in r.text
