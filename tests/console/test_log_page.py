"""The node's log as a member may see it, paged back."""

from __future__ import annotations

import html
import re

import pytest

from vigil.model import Actor, Tlp
from vigil.web.console import log_page

from .conftest import Console, ioc_bundle, publish


def _older(page: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" rel="next">Older', page)
    return html.unescape(m.group(1)) if m else None


def test_log_page_shows_the_checkpoint_and_only_entries_the_member_may_see(
        console: Console) -> None:
    sid = publish(console, "alpha", ["a-b"])
    b = console.sign_in("bravo")
    page = b.get("/log")
    assert page.status_code == 200
    size = console.exchange.log.size()
    assert f"<strong>{size}</strong>" in page.text
    assert html.escape(console.exchange.log.checkpoint()[1]).split("\n")[0] in page.text
    assert f"/shares/{sid}" in page.text
    c = console.sign_in("charlie")
    other = c.get("/log").text
    assert f"/shares/{sid}" not in other and sid not in other
    assert "show to you only as hashes" in other


def test_the_log_page_pages_back(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(log_page, "LOG_ROWS", 3)
    ex = console.exchange
    for i in range(4):
        req = ex.make_request(console.id("alpha"), tlp=Tlp.AMBER, to=["a-b"])
        ex.publish_bundle(Actor(console.id("alpha"), "u"), ioc_bundle(f"91.214.126.{i}"), req)
    b = console.sign_in("bravo")
    seen: list[int] = []
    url: str | None = "/log"
    while url:
        page = b.get(url).text
        seen += [int(i) for i in re.findall(r"<tr><td>(\d+)</td>", page)]
        url = _older(page)
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) >= 4
    monkeypatch.setattr(log_page, "LOG_ROWS", 1000)  # one page: the same entries
    whole = b.get("/log").text
    assert seen == [int(i) for i in re.findall(r"<tr><td>(\d+)</td>", whole)]
    assert _older(whole) is None
