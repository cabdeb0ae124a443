"""The access gate: its views always carry state and hold, its SQL rule equals its Python
rule, reading is not recording an opening, and the cases once seen leaking stay shut
(a purged share on /sent and the console's Sent page, a held share's log place, a held
share in search and correlation notices)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange
from tests.console.conftest import CSRF_RE

from vigil import clock
from vigil.analysis.correlate import correlator
from vigil.analysis.ledger import CommunityRule, Delays
from vigil.bus.local import LocalBus
from vigil.model import ShareState
from vigil.node import accountability
from vigil.node.exchange import Exchange
from vigil.policy.access import Access
from vigil.testing import TestNode
from vigil.testing.stix import ioc_bundle
from vigil.web import create_app

LATER = "2999-01-01T00:00:00.000Z"


class Node:
    def __init__(self, node: TestNode, ex: Exchange, client: TestClient) -> None:
        self.node, self.ex, self.client = node, ex, client

    def id(self, name: str) -> str:
        return self.node.members[name].id

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node.members[name].token}"}

    def publish(self, who: str, body: bytes, **params: str) -> str:
        r = self.client.post("/api/v1/shares", params={"tlp": "green", **params},
                             content=body, headers=self.h(who))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def hold(self, share_id: str, member: str, until: str = LATER) -> None:
        self.ex.store.write(lambda sql: sql.execute(
            "INSERT INTO share_delays(share_id, member_id, not_before, released) "
            "VALUES(?,?,?,?)", (share_id, self.id(member), until, False)))

    def console(self, name: str) -> TestClient:
        c = TestClient(self.client.app, follow_redirects=False)
        token = CSRF_RE.search(c.get("/signin").text)
        assert token is not None
        r = c.post("/signin", data={"csrf": token.group(1),
                                    "token": self.node.members[name].token})
        assert r.status_code == 303
        return c


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    tn, ex = four_member_exchange(tmp_path / "node")
    ex.read_gate = Delays(ex, CommunityRule(1.0, 24.0, 10**9))
    app = create_app(tn.settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as client:
        yield Node(tn, ex, client)
    ex.store.close()


# -- the cases once seen --------------------------------------------------------------

def test_sent_and_the_console_sent_page_leave_out_a_purged_share(node: Node) -> None:
    kept = node.publish("alpha", ioc_bundle("45.77.1.1"))
    gone = node.publish("alpha", ioc_bundle("45.77.1.2"))
    accountability.purge(node.ex, [gone])
    assert node.client.get(f"/api/v1/shares/{gone}", headers=node.h("alpha")).status_code \
        == 404
    doc = node.client.get("/api/v1/sent", headers=node.h("alpha")).json()
    assert [s["envelope"]["header"]["id"] for s in doc["shares"]] == [kept]
    # a page of nothing but purged shares still moves the cursor past them
    page = node.client.get("/api/v1/sent", params={"after": doc["shares"][0]["seq"]},
                           headers=node.h("alpha")).json()
    assert page["shares"] == [] and page["next"] > doc["shares"][0]["seq"]
    html = node.console("alpha").get("/sent").text
    assert kept in html and gone not in html


def test_log_place_of_a_held_share_is_not_found_for_the_held_member(node: Node) -> None:
    sid = node.publish("alpha", ioc_bundle("45.77.2.1"), to="everyone")
    node.hold(sid, "bravo")
    r = node.client.get(f"/api/v1/log/shares/{sid}", headers=node.h("bravo"))
    missing = node.client.get("/api/v1/log/shares/share--00000000-0000-4000-8000-000000000000",
                              headers=node.h("bravo"))
    assert r.status_code == missing.status_code == 404
    assert r.json()["error"]["code"] == missing.json()["error"]["code"] == "share.not_found"
    assert node.client.get(f"/api/v1/shares/{sid}", headers=node.h("bravo")).status_code \
        == 404
    for who in ("alpha", "charlie"):
        assert node.client.get(f"/api/v1/log/shares/{sid}", headers=node.h(who)
                               ).status_code == 200


def test_search_and_correlation_notices_honour_the_hold(node: Node) -> None:
    held = node.publish("alpha", ioc_bundle("45.77.3.3"), to="everyone")
    node.hold(held, "bravo")
    own = node.publish("bravo", ioc_bundle("45.77.3.3"), to="everyone")
    found = node.client.get("/api/v1/search", params={"q": "45.77.3.3"},
                            headers=node.h("bravo")).json()
    assert [r["share"] for r in found["results"]] == [own]
    notices = node.client.get("/api/v1/correlations", headers=node.h("bravo")).json()
    assert [n["share"] for n in notices["notices"]] == [own]
    assert "match" not in notices["notices"][0]  # only "a member of channel … holds a match"
    # charlie is not held back: it finds both
    found = node.client.get("/api/v1/search", params={"q": "45.77.3.3"},
                            headers=node.h("charlie")).json()
    assert {r["share"] for r in found["results"]} == {held, own}


# -- the gate itself ----------------------------------------------------------------------

def test_views_carry_the_state_and_the_hold(node: Node) -> None:
    sid = node.publish("alpha", ioc_bundle("45.77.4.4"), to="everyone")
    node.hold(sid, "bravo")
    gate = Access(node.ex, node.id("bravo"))
    got = gate.fetch(sid)
    assert got is not None
    assert got[1].not_before == LATER and got[1].state == ShareState()
    assert gate.read(got[1]).reason == "policy.delayed"
    assert Access(node.ex, node.id("bravo"), now=LATER).read(got[1]).allow
    assert Access(node.ex, node.id("charlie")).views(
        [(sid, got[0].header, ShareState())])[0].not_before is None
    accountability.purge(node.ex, [sid])
    again = Access(node.ex, node.id("alpha")).fetch(sid)
    assert again is not None and again[1].state.purged
    assert Access(node.ex, node.id("alpha")).read(again[1]).reason == "policy.purged"
    assert gate.fetch("share--nothing") is None


def test_views_many_are_the_views_of_each_gate_with_one_read_for_all(node: Node) -> None:
    """The push path judges every stream a share wakes at once: the same views as each
    member's gate alone (hold, revocation mark, consent grants), with one consent read
    and one revocation lookup for all the members."""
    held = node.publish("alpha", ioc_bundle("45.77.6.1"), to="everyone")
    granted = node.publish("alpha", ioc_bundle("45.77.6.2"), to="everyone")
    marked = node.publish("alpha", ioc_bundle("45.77.6.3"), to="everyone")
    node.hold(held, "bravo")

    def setup(sql: Any) -> None:
        sql.execute("INSERT INTO consent_requests(id, share_id, asker, originator, what, "
                    "reason, created, state, until_at) VALUES(?,?,?,?,?,?,?,?,?)",
                    ("consent--1", granted, node.id("charlie"), node.id("alpha"), "forward",
                     "test", clock.now(), "granted", None))
        sql.execute("INSERT INTO revoked_shares(share_id, key_id, marked) VALUES(?,?,?)",
                    (marked, "ed25519:test", clock.now()))
        sql.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                    "WHERE key='dir_version'")  # the key book is cached per directory

    node.ex.store.write(setup)
    d, now = node.ex.directory(), clock.now()
    rows = []
    for sid in (held, granted, marked):
        got = node.ex.store.get_share(sid)
        assert got is not None
        rows.append((sid, got[0].header, got[1]))
    members = [node.id(n) for n in ("alpha", "bravo", "charlie", "delta")]
    gates = [Access(node.ex, m, directory=d, now=now) for m in members]
    parts = [rows, rows, rows[1:], []]
    alone = [g.views(part) for g, part in zip(gates, parts, strict=True)]
    consent_reads: list[str] = []
    marks: list[object] = []
    query, revoked = node.ex.store.query, node.ex.revoked_shares

    def counted(sql: str, params: Any = ()) -> list[Any]:
        if "consent_requests" in sql:
            consent_reads.append(sql)
        return query(sql, params)

    def counted_revoked(ids: Any, directory: Any = None) -> set[str]:
        marks.append(ids)
        return revoked(ids, directory)

    with mock.patch.object(node.ex.store, "query", counted), \
            mock.patch.object(node.ex, "revoked_shares", counted_revoked):
        together = Access.views_many(gates, parts)
    assert together == alone
    assert len(consent_reads) == 1 and len(marks) == 1
    by = dict(zip(members, together, strict=True))
    assert by[node.id("bravo")][0].not_before == LATER
    assert by[node.id("alpha")][0].not_before is None
    assert by[node.id("charlie")][0].granted == frozenset({"forward"})
    assert by[node.id("bravo")][1].granted == frozenset()
    assert all(v.state.revoked == (v.share_id == marked) for vs in together for v in vs)
    # the push path's batched inbox read uses them: one consent read for four members
    consent_reads.clear()
    with mock.patch.object(node.ex.store, "query", counted):
        pages = node.ex.inbox_pages([(m, 0) for m in members], 100, notices=True)
    assert len(consent_reads) == 1 and len(pages) == 4
    with pytest.raises(ValueError):
        Access.views_many([gates[0], Access(node.ex, members[1], directory=d, now=LATER)],
                          [rows, rows])


def test_reading_a_share_does_not_record_an_opening(node: Node) -> None:
    sid = node.publish("alpha", ioc_bundle("45.77.5.5"), to="everyone")
    opened: list[tuple[str, str]] = []
    node.ex.read_hooks.append(lambda m, env: opened.append((m, env.id)))
    env, _ = node.ex.share(node.id("bravo"), sid)
    assert opened == []
    node.ex.record_opened(node.id("bravo"), env)
    assert opened == [(node.id("bravo"), sid)]
    # the REST read of one share is an opening; its sightings are not
    node.client.get(f"/api/v1/shares/{sid}/sightings", headers=node.h("charlie"))
    assert len(opened) == 1
    node.client.get(f"/api/v1/shares/{sid}", headers=node.h("charlie"))
    assert opened[-1] == (node.id("charlie"), sid)


def test_correlator_of_the_fixture_is_live(node: Node) -> None:
    """The node fixture correlates (so the hold test above is not vacuous)."""
    a = node.publish("alpha", ioc_bundle("45.77.6.6"), to="everyone")
    node.publish("bravo", ioc_bundle("45.77.6.6"), to="everyone")
    correlator(node.ex).process()
    notices = node.client.get("/api/v1/correlations", headers=node.h("bravo")).json()
    assert [n["match"]["share"] for n in notices["notices"]] == [a]


def test_a_member_sees_only_the_feeds_that_publish_as_itself(node: Node) -> None:
    import dataclasses

    a, b = node.id("alpha"), node.id("bravo")
    gate = Access(node.ex, a)
    assert gate.feed(a) and not gate.feed(b) and not gate.feed("")
    d = node.ex.directory()
    off = dataclasses.replace(d, members={**d.members,
                                          a: dataclasses.replace(d.members[a], active=False)})
    assert not Access(node.ex, a, directory=off).feed(a)
