"""The feeds page: a member sees, adds and pulls only feeds that publish as itself."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vigil.errors import InputError
from vigil.feeds import registry
from vigil.feeds.registry import Auth, Feed
from vigil.web.console.feed_pages import public_url

from .conftest import Console, csrf_of


def test_a_member_sees_and_pulls_only_its_own_feeds(console: Console) -> None:
    ex = console.exchange
    registry.install(ex)
    registry.add_feed(ex.store, Feed(
        name="alpha-feed", url="https://taxii.example.org/api1/", collection="c1",
        member_id=console.id("alpha"), tlp="amber", to=("a-b",), every=900,
        auth=Auth(None, None, "secret-token")))
    # the feed's lease held here: the serving app's scheduler leaves it alone (a feed never
    # pulled is due at once), so a pull seen afterwards could only be bravo's
    assert registry.claim(ex.store, "alpha-feed")
    a, b = console.sign_in("alpha"), console.sign_in("bravo")
    page = a.get("/feeds")
    assert page.status_code == 200 and 'data-feed="alpha-feed"' in page.text
    assert "secret-token" not in page.text
    other = b.get("/feeds")
    assert "alpha-feed" not in other.text
    r = b.post("/feeds/alpha-feed/pull", data={"csrf": csrf_of(other.text)})
    assert r.status_code == 404
    assert registry.get_feed(ex.store, "alpha-feed").last_pull is None


def test_a_console_feed_may_not_point_into_the_node_network(console: Console) -> None:
    for url in ("http://127.0.0.1:8080/taxii/", "https://10.1.2.3/api/", "ftp://x.example/",
                "https://user:pw@taxii.example.org/"):
        with pytest.raises(InputError):
            public_url(url)
    b = console.sign_in("bravo")
    page = b.get("/feeds")
    r = b.post("/feeds", data={"csrf": csrf_of(page.text), "url": "http://localhost:9/",
                               "collection": "c", "tlp": "amber", "to": "a-b"})
    assert r.status_code == 400 and "feed.url" in r.text
    assert registry.list_feeds(console.exchange.store) == []


def test_pull_now_publishes_and_shows_the_last_result(console: Console, tmp_path: Path
                                                      ) -> None:
    from tests.feeds.medallion import PASSWORD, SOURCE, USER, Medallion

    med = Medallion(tmp_path).start()
    try:
        ex = console.exchange
        registry.install(ex)
        registry.add_feed(ex.store, Feed(  # an operator's feed (loopback: CLI only)
            name="med", url=med.root, collection=SOURCE, member_id=console.id("alpha"),
            tlp="green", to=("a-b",), every=3600, auth=Auth(USER, PASSWORD, None)))
        a = console.sign_in("alpha")
        page = a.get("/feeds").text
        assert re.search(r'data-feed="med">.*?never', page, re.S)
        r = a.post("/feeds/med/pull", data={"csrf": csrf_of(page)})
        assert r.status_code == 303 and r.headers["location"] == "/feeds"
        after = a.get("/feeds").text
        assert PASSWORD not in after
        feed = registry.get_feed(ex.store, "med")
        assert feed.last_pull is not None and feed.last_error is None and feed.published > 0
        assert f"{feed.published} published" in after and 'class="verified">ok' in after
        assert console.sign_in("bravo").get("/").text.count("<tr data-share=") == feed.shares
    finally:
        med.stop()


def test_a_member_adds_a_feed_that_publishes_as_itself(console: Console,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))])
    b = console.sign_in("bravo")
    page = b.get("/feeds")
    form = {"csrf": csrf_of(page.text), "url": "https://taxii.example.org/api1/",
            "collection": "91a7b528-80eb-42ed-a74d-c6fbd5a26116", "tlp": "green",
            "to": "a-b", "every": "1h", "user": "feeds", "password": "s3cret-pw"}
    bad = b.post("/feeds", data={**form, "to": "group-nobody-knows"})
    assert bad.status_code >= 400 and registry.list_feeds(console.exchange.store) == []
    r = b.post("/feeds", data=form)
    assert r.status_code == 200 and "s3cret-pw" not in r.text
    (f,) = registry.list_feeds(console.exchange.store)
    assert f.member_id == console.id("bravo") and f.to == ("a-b",) and f.every == 3600
    assert f'data-feed="{f.name}"' in r.text
    assert f.name not in console.sign_in("alpha").get("/feeds").text
