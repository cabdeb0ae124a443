"""The console in a real headless Chromium against `vigil serve` (Playwright).

Writes a screenshot of every page to docs/screenshots/. Needs /usr/bin/chromium (Debian
package `chromium`); skipped without it unless VIGIL_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil import clock
from vigil.client import Client
from vigil.feeds import registry
from vigil.feeds.registry import Auth, Feed
from vigil.model import Actor, ChannelKind, Tlp
from vigil.testing import ServerProcess, make_node

from .chromium import ARGS, CHROMIUM, VIEWPORT, _missing
from .conftest import big_bundle, ioc_bundle, late_member, rich_bundle

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
@pytest.fixture
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        _missing(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
        raise
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def sign_in(browser: Any, url: str, token: str, seen: list[str], shot: str | None = None
            ) -> Any:
    ctx = browser.new_context(viewport=VIEWPORT)
    page = ctx.new_page()
    page.on("request", lambda r: seen.append(r.url))
    page.goto(url + "/signin")
    if shot:
        page.screenshot(path=str(SHOTS / shot))
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/")
    return page


@pytest.mark.slow
def test_live_inbox_share_page_policy_and_screenshots(browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True})
    a, b, c = (node.members[n] for n in ("alpha", "bravo", "charlie"))
    ex = node.exchange()
    ex.create_channel(a.id, "a-b", ChannelKind.BILATERAL, [b.id])
    ex.create_channel(a.id, "ics-group", ChannelKind.GROUP, [b.id, c.id])
    ex.store.close()
    seen: list[str] = []
    with ServerProcess(node.data) as srv:
        pb = sign_in(browser, srv.url, b.token, seen, shot="signin.png")
        pc = sign_in(browser, srv.url, c.token, seen)
        expect(pb.locator("#inbox")).to_be_visible()
        pb.wait_for_timeout(300)  # let the EventSource connect (it would catch up anyway)
        with Client(srv.url, a.token, a.keyring) as ca:
            t0 = time.monotonic()
            res = ca.publish(rich_bundle("live"), tlp="amber", to=["a-b"],
                             themes=["critical-infrastructure/energy"], regions=["UA"])
            row = pb.locator(f'tr[data-share="{res["id"]}"]')
            expect(row).to_be_visible(timeout=1000)
            assert time.monotonic() - t0 < 1.5
        assert pb.url == srv.url + "/"  # no reload
        pb.screenshot(path=str(SHOTS / "inbox.png"))
        row.get_by_role("link").click()
        expect(pb.get_by_text("verified").first).to_be_visible()
        expect(pb.locator("body")).to_contain_text("signed by alpha (member:alpha")
        expect(pb.locator("body")).to_contain_text("T0855")
        pb.screenshot(path=str(SHOTS / "share.png"), full_page=True)
        # C may not read it: not in its live inbox, not after reload, "not found" by URL
        assert pc.locator(f'tr[data-share="{res["id"]}"]').count() == 0
        pc.reload()
        assert res["id"] not in pc.content()
        resp = pc.goto(f"{srv.url}/shares/{res['id']}")
        assert resp is not None and resp.status == 404
        expect(pc.locator("h1")).to_have_text("Not found")
        assert "Industroyer2" not in pc.content()
        pc.goto(srv.url + "/")
        # A publishes a plain IOC list through the form: preview (which lists the line
        # holding no indicator), then send what was found
        pa = sign_in(browser, srv.url, a.token, seen)
        pa.get_by_role("link", name="Publish").click()
        pa.get_by_label("A STIX 2.1 bundle").fill(
            "198.51.100[.]23\nseen on the night shift\nhxxp://evil[.]example/x\n")
        pa.get_by_label("Channel", exact=True).select_option("ics-group")
        pa.get_by_label("TLP", exact=True).select_option("amber")
        pa.get_by_label("cyber", exact=True).check()
        pa.screenshot(path=str(SHOTS / "publish.png"), full_page=True)
        pa.get_by_role("button", name="Preview").click()
        expect(pa.locator(".preview")).to_contain_text("member:charlie")
        expect(pa.locator("#unread tbody tr")).to_have_count(1)
        expect(pa.locator("#unread tbody tr")).to_contain_text("2seen on the night shift")
        pa.screenshot(path=str(SHOTS / "publish-preview.png"), full_page=True)
        pa.get_by_role("button", name="Send").click()
        expect(pa.locator(".ok")).to_contain_text("Published")
        expect(pc.locator("tr[data-share]")).to_have_count(1, timeout=1000)  # C's live inbox
        expect(pa.locator("body")).to_contain_text("198.51.100.23")
        expect(pa.locator("body")).to_contain_text("http://evil.example/x")
        assert "night shift" not in pa.content()
        pa.get_by_role("link", name="Sent").click()
        expect(pa.locator("tbody tr")).to_have_count(2)
        pa.screenshot(path=str(SHOTS / "sent.png"), full_page=True)
        pa.get_by_role("link", name="Channels").click()
        expect(pa.locator("h2")).to_have_count(2)
        pa.screenshot(path=str(SHOTS / "channels.png"), full_page=True)
        # keyboard: tab to the first nav link and follow it
        pa.keyboard.press("Tab")
        pa.keyboard.press("Tab")
        pa.keyboard.press("Enter")
        pa.wait_for_url(srv.url + "/")
        pa.get_by_role("button", name="Sign out").click()
        pa.wait_for_url(srv.url + "/signin")
        for p in (pa, pb, pc):  # end the live streams before the server stops
            p.context.close()
    foreign = [u for u in seen if not u.startswith(srv.url + "/")]
    assert foreign == [], foreign
    assert any("/api/v1/stream" in u for u in seen)


@pytest.mark.slow
def test_search_notices_receipts_recall_graph_live_and_nothing_leaves(browser: Any,
                                                                      tmp_path: Path) -> None:
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True})
    a, b, _c = (node.members[n] for n in ("alpha", "bravo", "charlie"))
    ex = node.exchange()
    ex.create_channel(a.id, "a-b", ChannelKind.BILATERAL, [b.id])
    ex.create_channel(a.id, "all", ChannelKind.COMMUNITY, [])
    # community-wide, so plain and indexed; delta joins only after it
    hidden = ex.publish_bundle(Actor(a.id, "u"), ioc_bundle("91.214.124.88"), ex.make_request(
        a.id, tlp=Tlp.GREEN, to=["all"])).envelope.id
    d_token = late_member(ex, node, "delta")
    registry.install(ex)  # a feed with a last result, for the feeds page
    registry.add_feed(ex.store, Feed(
        name="cert-feed", url="https://taxii.example.org/api1/", collection="91a7b528",
        member_id=a.id, tlp="green", to=("all",), every=86400, auth=Auth("feeds", "pw", None)))
    # pulled just now, so the server's scheduler does not try the (unreachable) server
    registry.release(ex.store, "cert-feed", error=None, pulled_at=clock.now(),
                     counts={"fetched": 120, "published": 117, "shares": 3, "rejected": 3})
    ex.store.close()
    seen: list[str] = []
    with ServerProcess(node.data) as srv:
        with Client(srv.url, a.token, a.keyring) as ca:
            readable = ca.publish(ioc_bundle("91.214.124.77"), tlp="green", to=["all"],
                                  themes=["cyber"], regions=["EE"])["id"]
            big = ca.publish(big_bundle(300), tlp="green", to=["a-b"])["id"]
        pb = sign_in(browser, srv.url, b.token, seen)
        pa = sign_in(browser, srv.url, a.token, seen)
        pd = sign_in(browser, srv.url, d_token, seen)
        leaving: list[str] = []
        for p in (pa, pb, pd):  # any request to another host is stopped and counted
            p.context.route(lambda u: not u.startswith(srv.url + "/"),
                            lambda route: (leaving.append(route.request.url), route.abort()))
        # search: D finds the value of a share it may read, not the one from before it joined
        pd.get_by_role("link", name="Search").click()
        pd.get_by_label("Value").fill("91.214.124.77")
        pd.get_by_role("button", name="Search").click()
        expect(pd.locator(f'#results tr[data-share="{readable}"]')).to_be_visible()
        pd.screenshot(path=str(SHOTS / "search.png"), full_page=True)
        pd.goto(srv.url + "/search?q=91.214.124.88")
        expect(pd.locator("#results")).to_contain_text("Nothing you may read matches")
        assert hidden not in pd.content()
        pb.goto(srv.url + "/search?q=91.214.124.88")  # B, a recipient, finds it
        expect(pb.locator(f'#results tr[data-share="{hidden}"]')).to_be_visible()
        pd.context.close()
        # a correlation notice arrives live: B publishes the value A's share holds
        pb.goto(srv.url + "/correlations")
        expect(pb.locator("#notices")).to_be_visible()
        pb.wait_for_timeout(300)  # let the EventSource connect
        with Client(srv.url, b.token, b.keyring) as cb:
            mine = cb.publish(ioc_bundle("91.214.124.77"), tlp="green", to=["all"])["id"]
        notice = pb.locator("#notices tbody tr").first
        expect(notice).to_contain_text("91.214.124.77", timeout=5000)
        expect(notice.locator(f'a[href="/shares/{mine}"]')).to_be_visible()
        expect(notice.locator(f'a[href="/shares/{readable}"]')).to_be_visible()
        assert pb.url == srv.url + "/correlations"  # no reload
        pb.screenshot(path=str(SHOTS / "correlations.png"), full_page=True)
        # A's receipts view updates when B opens the share
        pa.goto(f"{srv.url}/shares/{readable}")
        opened = pa.locator(f'#receipts tr[data-member="{b.id}"] td[data-what="opened"]')
        expect(opened).to_contain_text("not yet")
        pb.goto(f"{srv.url}/shares/{readable}")
        expect(pb.locator("#indicators")).to_contain_text("91.214.124.77")
        expect(opened).to_contain_text("✓", timeout=6000)
        pa.screenshot(path=str(SHOTS / "receipts.png"), full_page=True)
        # B reports a sighting from the indicator's row; A sees it counted
        pb.locator("#indicators form.sighting button").first.click()
        expect(pb.locator(".ok")).to_contain_text("sighting is recorded")
        pa.reload()
        expect(pa.locator("#sightings")).to_contain_text("sighted")
        # without JavaScript, every new page still reads
        ctx = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)
        pn = ctx.new_page()
        pn.on("request", lambda r: seen.append(r.url))
        pn.goto(srv.url + "/signin")
        pn.get_by_label("API token").fill(b.token)
        pn.get_by_role("button", name="Sign in").click()
        pn.wait_for_url(srv.url + "/")
        pn.goto(srv.url + "/search?q=91.214.124.77")
        expect(pn.locator(f'#results tr[data-share="{mine}"]')).to_be_visible()
        pn.goto(srv.url + "/correlations")
        expect(pn.locator("#notices tbody tr")).to_have_count(1)
        pn.goto(f"{srv.url}/shares/{big}")
        expect(pn.locator("#graph .node")).to_have_count(300)
        assert pn.locator("#graph .zoom").count() == 0  # the zoom buttons need the script
        for path in ("/ledger", "/feeds", "/warninglists", "/sent"):
            assert (resp := pn.goto(srv.url + path)) is not None and resp.status == 200
        ctx.close()
        # recall: the confirmation names who will be told; B's open inbox loses the row
        pb.goto(srv.url + "/")
        row = pb.locator(f'tr[data-share="{readable}"]')
        expect(row).to_be_visible()
        pb.wait_for_timeout(300)
        pa.get_by_role("link", name="Recall this share…").click()
        expect(pa.locator("#told")).to_contain_text("member:bravo")
        expect(pa.locator("#told li")).to_have_count(3)
        pa.screenshot(path=str(SHOTS / "recall.png"), full_page=True)
        pa.get_by_role("button", name="Recall and tell 3 recipient(s)").click()
        expect(pa.locator(".ok")).to_contain_text("Recalled")
        expect(row).to_have_count(0, timeout=5000)
        assert pb.url == srv.url + "/"  # no reload
        expect(pb.locator("#live-status")).to_contain_text("recalled")
        # a 300-object share's graph: every object drawn, grouped by type, zoomable
        pb.goto(f"{srv.url}/shares/{big}")
        expect(pb.locator("#graph .node")).to_have_count(300)
        expect(pb.locator("#graph .group")).to_have_count(3)
        pb.locator("#graph").screenshot(path=str(SHOTS / "graph.png"))
        before = pb.locator("#graph svg").get_attribute("viewBox")
        pb.get_by_role("button", name="Zoom in").click()
        assert pb.locator("#graph svg").get_attribute("viewBox") != before
        for path, shot in (("/ledger", "ledger.png"), ("/feeds", "feeds.png"),
                           ("/warninglists", "warninglists.png")):
            pa.goto(srv.url + path)
            expect(pa.locator("h1")).to_be_visible()
            if path == "/feeds":
                expect(pa.locator('tr[data-feed="cert-feed"]')).to_contain_text("117 published")
            pa.screenshot(path=str(SHOTS / shot), full_page=True)
        for p in (pa, pb):
            p.context.close()
    assert leaving == []
    foreign = [u for u in seen if not u.startswith(srv.url + "/")]
    assert foreign == [], foreign
    assert any("/api/v1/correlations/stream" in u for u in seen)
