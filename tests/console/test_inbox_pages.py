"""The member's lists: the inbox (filtered server-side, paged back), sent, channels."""

from __future__ import annotations

import html
import re

import pytest

from vigil.model import Actor, Tlp
from vigil.web.console import inbox_pages

from .conftest import Console, ioc_bundle, publish


def _ids(page: str) -> list[str]:
    return re.findall(r'<tr data-share="([^"]+)"', page)


def _older(page: str) -> str | None:
    m = re.search(r'<a href="([^"]+)" rel="next">Older', page)
    return html.unescape(m.group(1)) if m else None


def test_inbox_sent_and_channels_list_for_the_right_member(console: Console) -> None:
    sid = publish(console, "alpha", ["a-b"], themes=("critical-infrastructure/energy",),
                  regions=("EE",))
    b, c, a = console.sign_in("bravo"), console.sign_in("charlie"), console.sign_in("alpha")
    inbox = b.get("/").text
    assert sid in inbox and "TLP:AMBER" in inbox and "a-b" in inbox
    assert sid not in c.get("/").text
    assert sid in a.get("/sent").text and sid not in b.get("/sent").text
    ch = b.get("/channels").text
    assert "a-b" in ch and "group1" in ch and "every active member" in ch and "join" in ch
    ch_c = c.get("/channels").text
    assert "a-b" not in ch_c and "group1" not in ch_c


def test_inbox_filters_server_side(console: Console) -> None:
    s1 = publish(console, "alpha", ["a-b"], tlp=Tlp.AMBER, themes=("cyber",), regions=("EE",))
    s2 = publish(console, "alpha", ["everyone"], tlp=Tlp.GREEN, themes=("terrorism",),
                 regions=("KE",))
    s3 = publish(console, "charlie", ["everyone"], tlp=Tlp.CLEAR, themes=("cyber",))
    b = console.sign_in("bravo")
    cases = {
        "": {s1, s2, s3}, "?theme=cyber": {s1, s3}, "?region=ke": {s2}, "?tlp=green": {s2},
        "?tlp=TLP:AMBER": {s1}, "?channel=everyone": {s2, s3}, "?channel=a-b": {s1},
        "?originator=charlie": {s3}, "?originator=alpha&theme=cyber": {s1},
        "?channel=not-mine": set(), "?originator=nobody": set(),
    }
    for q, want in cases.items():
        text = b.get("/" + q).text
        assert {s for s in (s1, s2, s3) if s in text} == want, q
    assert b.get("/?tlp=purple").status_code == 400


@pytest.mark.parametrize("path", ["/", "/sent"])
def test_pages_reach_every_share_once(console: Console, monkeypatch: pytest.MonkeyPatch,
                                      path: str) -> None:
    monkeypatch.setattr(inbox_pages, "INBOX_ROWS", 2)
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
