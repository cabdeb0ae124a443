"""Search, correlation notices, the ledger and warninglists in the console: each shows
only what the member may read."""

from __future__ import annotations

import json
import re

from vigil.analysis.correlate import correlator
from vigil.model import Actor, Tlp

from .conftest import Console, csrf_of, ioc_bundle, late_member


def _publish(con: Console, who: str, to: list[str], raw: bytes, **kw: object) -> str:
    ex = con.exchange
    req = ex.make_request(con.id(who), tlp=Tlp.GREEN, to=to, **kw)  # type: ignore[arg-type]
    return ex.publish_bundle(Actor(con.id(who), "u"), raw, req).envelope.id


def test_search_finds_what_the_member_may_read_and_nothing_else(console: Console) -> None:
    # both community-wide (plain, so indexed); echo joins between the two
    hidden = _publish(console, "alpha", ["everyone"], ioc_bundle("91.214.124.11"))
    late_member(console.exchange, console.node, "echo")
    readable = _publish(console, "alpha", ["everyone"], ioc_bundle("91.214.124.10"),
                        themes=["cyber"])
    b = console.sign_in("echo")
    r = b.get("/search", params={"q": "91.214.124.10"})
    assert r.status_code == 200 and f'data-share="{readable}"' in r.text
    assert "ipv4:91.214.124.10" in r.text or "ip:91.214.124.10" in r.text
    for q in ("91.214.124.11", "91.214.124.0/24"):  # not B's, also through a network
        r = b.get("/search", params={"q": q})
        assert hidden not in r.text
    assert f'data-share="{readable}"' in b.get("/search", params={"q": "91.214.124.0/24"}).text
    # header filters without a value: theme, originator, time
    assert f'data-share="{readable}"' in b.get("/search", params={"theme": "cyber"}).text
    assert readable not in b.get("/search", params={"theme": "terrorism"}).text
    assert readable not in b.get("/search", params={"until": "2000-01-01"}).text
    c = console.sign_in("charlie")
    assert f'data-share="{hidden}"' in c.get("/search", params={"q": "91.214.124.11"}).text
    assert hidden not in b.get("/search", params={"originator": "alpha"}).text
    bad = b.get("/search", params={"q": "not an observable at all !"})
    assert bad.status_code == 400 and "input.observable" in bad.text
    assert b.get("/search", params={"since": "yesterday"}).status_code == 400


def test_correlation_notices_page_and_its_live_cursor(console: Console) -> None:
    theirs = _publish(console, "alpha", ["everyone"], ioc_bundle("91.214.124.20"))
    mine = _publish(console, "bravo", ["everyone"], ioc_bundle("91.214.124.20"))
    correlator(console.exchange).process()
    b = console.sign_in("bravo")
    page = b.get("/correlations").text
    row = re.search(r'<tr data-seq="(\d+)">(.*?)</tr>', page, re.S)
    assert row is not None and "91.214.124.20" in row.group(2)
    assert f"/shares/{mine}" in row.group(2) and f"/shares/{theirs}" in row.group(2)
    live = re.search(r'id="live-notices">(.*?)</script>', page)
    assert live is not None and json.loads(live.group(1))["cursor"] >= int(row.group(1))
    c = console.sign_in("charlie")  # holds neither share: no notice
    assert "91.214.124.20" not in c.get("/correlations").text


def test_ledger_table_and_weekly_charts_count_only_readable_shares(console: Console) -> None:
    _publish(console, "alpha", ["a-b"], ioc_bundle("91.214.124.30"))
    _publish(console, "alpha", ["a-b"], ioc_bundle("91.214.124.31"))
    b, c = console.sign_in("bravo"), console.sign_in("charlie")
    page = b.get("/ledger").text
    assert 'id="ledger"' in page and "<svg class=\"chart\"" in page
    assert re.search(r'alpha</th><td><svg class="chart".*?</svg></td><td>2</td>', page, re.S)
    other = c.get("/ledger").text
    assert not re.search(r'alpha</th><td><svg class="chart".*?</svg></td><td>2</td>', other,
                         re.S)


def test_warninglists_add_and_remove_own(console: Console) -> None:
    b = console.sign_in("bravo")
    page = b.get("/warninglists")
    assert page.status_code == 200 and 'id="shipped-lists"' in page.text
    doc = {"name": "our-scanners", "description": "our own scanners", "version": 1,
           "type": "cidr", "list": ["198.51.100.0/24"]}
    r = b.post("/warninglists", data={"csrf": csrf_of(page.text), "action": "add",
                                      "content": json.dumps(doc)})
    assert r.status_code == 200 and "our-scanners" in r.text
    assert "our-scanners" not in console.sign_in("charlie").get("/warninglists").text
    bad = b.post("/warninglists", data={"csrf": csrf_of(page.text), "content": "{}"})
    assert bad.status_code == 400 and "warninglist.invalid" in bad.text
    r = b.post("/warninglists", data={"csrf": csrf_of(page.text), "action": "remove",
                                      "name": "our-scanners"})
    assert r.status_code == 303
    assert "our-scanners" not in b.get("/warninglists").text
