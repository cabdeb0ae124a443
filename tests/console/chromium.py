"""A headless Chromium with a virtual WebAuthn authenticator, for the sign-in tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from .test_browser import ARGS, CHROMIUM, _missing


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
