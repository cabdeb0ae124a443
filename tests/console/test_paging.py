"""Inbox and sent page back through every share, keeping the filters."""

from __future__ import annotations

import html
import re

import pytest

from vigil.model import Actor, Tlp
from vigil.web.console import routes

from .conftest import Console, ioc_bundle


def _ids(page: str) -> list[str]:
    return re.findall(r'<tr data-share="([^"]+)"', page)


def _older(page: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" rel="next">Older', page)
    return html.unescape(m.group(1)) if m else None


@pytest.mark.parametrize("path", ["/", "/sent"])
def test_pages_reach_every_share_once(console: Console, monkeypatch: pytest.MonkeyPatch,
                                      path: str) -> None:
    monkeypatch.setattr(routes, "INBOX_ROWS", 2)
    ex = console.exchange
    sent = []
    for i in range(5):
        req = ex.make_request(console.id("alpha"), tlp=Tlp.AMBER, to=["a-b"],
                              themes=["cyber"] if i % 2 == 0 else ["terrorism"],
                              evaluation="B2", legal_basis="bilateral",
                              legal_purposes=["investigation"])
        sent.append(ex.publish_bundle(Actor(console.id("alpha"), "u"),
                                      ioc_bundle(f"91.214.125.{i}"), req).envelope.id)
    c = console.sign_in("bravo" if path == "/" else "alpha")
    if path == "/sent":
        seen = []
        url: str | None = "/sent"
        while url:
            page = c.get(url).text
            assert "<title>Sent — " in page
            rows = re.findall(r'<a href="/shares/([^"]+)">', page.split("<tbody>")[1])
            seen += rows
            url = _older(page)
        assert seen == list(reversed(sent))
        return
    page = c.get("/").text
    assert _ids(page) == [sent[4], sent[3]] and 'id="live"' in page
    older = _older(page)
    assert older is not None
    second = c.get(older).text
    assert _ids(second) == [sent[2], sent[1]] and 'id="live"' not in second
    assert 'href="/?"' in second or 'href="/"' in second or "Newest" in second
    third = c.get(_older(second) or "").text
    assert _ids(third) == [sent[0]] and _older(third) is None
    # filters are kept across pages: cyber is shares 0, 2 and 4
    page = c.get("/", params={"theme": "cyber"}).text
    assert _ids(page) == [sent[4], sent[2]]
    nxt = _older(page)
    assert nxt is not None and "theme=cyber" in nxt
    assert _ids(c.get(nxt).text) == [sent[0]]


def test_the_log_page_pages_back(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(routes, "LOG_ROWS", 3)
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
    monkeypatch.setattr(routes, "LOG_ROWS", 1000)  # one page: the same entries
    whole = b.get("/log").text
    assert seen == [int(i) for i in re.findall(r"<tr><td>(\d+)</td>", whole)]
    assert _older(whole) is None
