"""A headless Chromium (its path, flags and viewport, and a skip or a failure where it is
missing) with a virtual WebAuthn authenticator, for the sign-in tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}


def _missing(why: str) -> None:
    if os.environ.get("VIGIL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{why}; install it with: apt-get install -y chromium")
    pytest.skip(why)


@pytest.fixture
def chromium() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        _missing(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def authenticator(ctx: Any, page: Any) -> tuple[Any, str]:
    cdp = ctx.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    got = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    return cdp, str(got["authenticatorId"])
