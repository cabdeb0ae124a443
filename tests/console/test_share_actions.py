"""Recall from the share page (a confirmation naming who will be told, then the signed
recall) and sightings reported from an indicator's row: only for who may."""

from __future__ import annotations

import re

from vigil.analysis import sightings
from vigil.model import Actor, Tlp
from vigil.node import accountability as acc

from .conftest import Console, csrf_of, ioc_bundle


def _publish(con: Console, who: str, to: list[str], raw: bytes) -> str:
    ex = con.exchange
    req = ex.make_request(con.id(who), tlp=Tlp.AMBER, to=to)
    return ex.publish_bundle(Actor(con.id(who), "u"), raw, req).envelope.id


def test_recall_confirmation_names_recipients_and_only_the_originator_may(
        console: Console) -> None:
    sid = _publish(console, "alpha", ["a-b"], ioc_bundle("91.214.124.5"))
    a, b, c = (console.sign_in(n) for n in ("alpha", "bravo", "charlie"))
    page = a.get(f"/shares/{sid}/recall")
    assert page.status_code == 200
    told = re.search(r'<ul class="cols" id="told">(.*?)</ul>', page.text, re.S)
    assert told is not None and "member:bravo" in told.group(1)
    assert "member:charlie" not in told.group(1)
    shown = a.get(f"/shares/{sid}").text  # delivered to B's inbox; no signed receipt yet
    row = re.search(rf'<tr data-member="{console.id("bravo")}">(.*?)</tr>', shown, re.S)
    assert row is not None
    assert re.search(r'data-what="delivered"><span class="yes">', row.group(1))
    assert re.search(r'data-what="received"><span class="no">not yet', row.group(1))
    for other in (b, c):  # a reader and a stranger: the same 404 as a missing share
        for path in (f"/shares/{sid}/recall", "/shares/share--nope/recall"):
            r = other.get(path)
            assert r.status_code == 404 and "console.not_found" in r.text
        r = other.post(f"/shares/{sid}/recall", data={"csrf": csrf_of(other.get("/").text)})
        assert r.status_code == 404
    assert not console.exchange.store.get_share(sid)[1].recalled
    assert a.post(f"/shares/{sid}/recall", data={}).status_code == 403  # no CSRF token
    r = a.post(f"/shares/{sid}/recall", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/shares/{sid}?recalled=1")
    assert console.exchange.store.get_share(sid)[1].recalled
    view = acc.receipts_view(console.exchange, console.id("alpha"), sid)
    assert view["recall"] is not None
    shown = a.get(f"/shares/{sid}")
    assert shown.status_code == 200 and "Recall this share" not in shown.text
    assert b.get(f"/shares/{sid}").status_code == 404


def test_a_reader_reports_a_sighting_from_an_indicator_row(console: Console) -> None:
    sid = _publish(console, "alpha", ["a-b"], ioc_bundle("91.214.124.6"))
    b, c = console.sign_in("bravo"), console.sign_in("charlie")
    page = b.get(f"/shares/{sid}")
    ind = re.search(r'name="indicator" value="(indicator--[0-9a-f-]+)"', page.text)
    assert ind is not None
    form = {"csrf": csrf_of(page.text), "indicator": ind.group(1), "verdict": "sighted",
            "count": "3"}
    r = c.post(f"/shares/{sid}/sightings", data={**form, "csrf": csrf_of(c.get("/").text)})
    assert r.status_code == 404  # C may not read it
    bad = b.post(f"/shares/{sid}/sightings", data={**form, "verdict": "maybe"})
    assert bad.status_code == 400 and "input.sighting_verdict" in bad.text
    for count in ("²", "9" * 5000):  # str.isdigit() takes both; int() refuses them
        bad = b.post(f"/shares/{sid}/sightings", data={**form, "count": count})
        assert bad.status_code == 400 and "input.sighting_count" in bad.text
    assert sightings.sightings_of_share(console.exchange, console.id("bravo"),
                                        sid)["sightings"] == []
    r = b.post(f"/shares/{sid}/sightings", data=form)
    assert r.status_code == 303
    got = sightings.sightings_of_share(console.exchange, console.id("alpha"), sid)
    assert got["counts"] == {ind.group(1): {"sighted": {"reports": 1, "count": 3}}}
    a = console.sign_in("alpha")
    assert re.search(r"<td>sighted</td><td>1</td><td>3</td>", a.get(f"/shares/{sid}").text)
