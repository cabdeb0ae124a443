"""The reciprocity ledger: its counts, who sees which, the community rule, and a
randomised check that no count reveals a share to a member that may not read it."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.analysis.ledger_reference import naive_report
from tests.analysis.nodes import Api, bundle, feodo_ips, serve, store_url
from tests.console.conftest import csrf_of
from tests.policy import reference as ref
from tests.policy.strategies import READ_TIMES, Scenario, all_member_ids, seeded_scenarios

from vigil import clock
from vigil.analysis import blind, ledger, sightings
from vigil.errors import NotFound, PolicyDenied
from vigil.model import Actor, ChannelKind, ShareState, Tlp
from vigil.node.exchange import Exchange
from vigil.policy import decide_read
from vigil.storage.base import Sql
from vigil.testing import make_node


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with serve(tmp_path / "node", store_url(request)) as a:
        yield a


def row(doc: dict[str, Any], name: str, channel: str | None = None) -> dict[str, Any]:
    rows = doc["members"] if channel is None else \
        next(c for c in doc["channels"] if c["name"] == channel)["members"]
    return next(r for r in rows if r["name"] == name)


def ledger_of(api: Api, who: str) -> dict[str, Any]:
    r = api.client.get("/api/v1/ledger", headers=api.h(who))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_counts_of_a_small_exchange(api: Api) -> None:
    ips = feodo_ips(3, skip=10)
    first, (ind,) = bundle(ips[0])
    s1 = api.publish("alpha", first, tlp="green")  # plain, to everyone
    again, _ = bundle(ips[0], ips[1])
    api.publish("bravo", again, tlp="green")  # bravo repeats alpha's value
    s3 = api.publish("alpha", bundle(ips[2])[0], tlp="amber", to="group1")  # sealed
    api.client.get(f"/api/v1/shares/{s1}", headers=api.h("bravo"))
    api.client.get(f"/api/v1/shares/{s1}", headers=api.h("bravo"))  # one opening
    api.client.get(f"/api/v1/shares/{s1}", headers=api.h("alpha"))  # its own: no opening
    api.client.get(f"/api/v1/shares/{s3}", headers=api.h("delta"))
    for who, verdict in (("bravo", "sighted"), ("charlie", "sighted"),
                         ("delta", "false-positive"), ("alpha", "sighted")):
        r = api.client.post(f"/api/v1/shares/{s1}/sightings", headers=api.h(who),
                            json={"indicator": ind, "verdict": verdict})
        assert r.status_code == 201

    doc = ledger_of(api, "bravo")
    a = row(doc, "alpha")
    assert a["shares"] == 2  # s1 and s3 (bravo is in group1)
    assert a["objects"] == 2  # one indicator each; s3 is sealed but the node holds alpha
    assert a["first_reports"] == 1  # bravo published alpha's value later
    assert a["sightings_confirmed"] == 2  # bravo and charlie; alpha's own does not count
    assert a["false_positives"] == 1
    assert a["received"] == 1  # s2
    b = row(doc, "bravo")
    assert (b["shares"], b["objects"], b["received"], b["opened"], b["first_reports"]) == \
        (1, 2, 2, 1, 0)
    assert row(doc, "delta")["opened"] == 1
    # a signed "opened" receipt counts as an opening too (once per member and share)
    assert row(doc, "echo")["opened"] == 0
    api.sdk("echo").receipt(s3, "opened")
    api.sdk("delta").receipt(s3, "opened")
    doc = ledger_of(api, "bravo")
    assert row(doc, "echo")["opened"] == 1 and row(doc, "delta")["opened"] == 1
    assert row(doc, "charlie")["received"] == 2  # s1 and s2
    # per channel: s3 went to group1; bravo sees group1 and everyone, not a-b
    assert {c["name"] for c in doc["channels"]} == {"a-b", "group1", "everyone"}
    assert row(doc, "alpha", "group1")["shares"] == 1
    assert row(doc, "delta", "group1")["opened"] == 1
    # charlie may not read s3: it counts nothing of it, and sees no group1 section
    c = ledger_of(api, "charlie")
    assert row(c, "alpha")["shares"] == 1
    assert row(c, "delta")["opened"] == 0 and row(c, "delta")["received"] == 2
    assert {ch["name"] for ch in c["channels"]} == {"everyone"}
    assert s3 not in str(c) and s1 not in str(c)  # counts only, never a share id


def test_the_community_rule_holds_amber_community_shares_back(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    with serve(tmp_path / "node", None, ledger_delay_ratio=1.0, ledger_delay_hours=2.0,
               ledger_delay_grace=1) as api:
        for _ in range(2):  # bravo receives two shares and gives none; charlie gives two
            api.publish("alpha", bundle(feodo_ips(1, skip=13)[0])[0], tlp="green")
            api.publish("charlie", bundle(feodo_ips(1, skip=14)[0])[0], tlp="green")
        pv = api.client.post("/api/v1/preview", json={"tlp": "amber"},
                             headers=api.h("alpha")).json()
        rule = pv["community_rule"]
        assert rule["applies"] is True and rule["rule"]["ratio"] == 1.0
        assert {x["name"] for x in rule["held_back"]} == {"bravo", "delta", "echo", "foxtrot"}
        # the console's publish preview says so too
        web = TestClient(api.client.app, follow_redirects=False)
        csrf = csrf_of(web.get("/signin").text)
        web.post("/signin", data={"csrf": csrf, "token": api.node.members["alpha"].token})
        page = web.post("/publish", data={
            "csrf": csrf_of(web.get("/publish").text), "kind": "auto", "channel": "",
            "tlp": "amber", "content": feodo_ips(1, skip=16)[0], "action": "preview"})
        assert page.status_code == 200, page.text
        assert "community rule holds this share back until" in page.text
        assert "bravo, delta, echo, foxtrot" in page.text
        web.close()
        narrow = api.client.post("/api/v1/preview", json={"tlp": "amber", "to": ["group1"]},
                                 headers=api.h("alpha")).json()
        assert narrow["community_rule"]["applies"] is False
        assert narrow["community_rule"]["held_back"] == []
        before = api.client.get("/api/v1/inbox", headers=api.h("bravo")).json()
        body, (ind,) = bundle(feodo_ips(1, skip=15)[0])
        sid = api.publish("alpha", body, tlp="amber")
        # held back from bravo: not in its inbox, not readable, not counted, no sighting
        page = api.client.get("/api/v1/inbox", params={"after": before["next"]},
                              headers=api.h("bravo")).json()
        assert page["entries"] == []
        assert api.client.get(f"/api/v1/shares/{sid}", headers=api.h("bravo")).status_code \
            == 404
        assert api.client.post(f"/api/v1/shares/{sid}/sightings", headers=api.h("bravo"),
                               json={"indicator": ind, "verdict": "sighted"}).status_code == 404
        assert row(ledger_of(api, "bravo"), "alpha")["shares"] == 2
        # charlie gives as much as it gets: no wait
        assert api.client.get(f"/api/v1/shares/{sid}", headers=api.h("charlie")).status_code \
            == 200
        # two hours later the share reaches bravo, after the cursor it already holds
        later = clock.fmt(datetime.now(UTC) + timedelta(hours=2, minutes=1))
        monkeypatch.setattr(clock, "now", lambda: later)
        page = api.client.get("/api/v1/inbox", params={"after": page["next"]},
                              headers=api.h("bravo")).json()
        assert [e["share_id"] for e in page["entries"]] == [sid]
        assert page["entries"][0]["seq"] > before["next"]
        assert api.client.get(f"/api/v1/shares/{sid}", headers=api.h("bravo")).status_code \
            == 200
        assert row(ledger_of(api, "bravo"), "alpha")["shares"] == 3


def test_the_rule_is_off_unless_configured(api: Api) -> None:
    pv = api.client.post("/api/v1/preview", json={"tlp": "amber"}, headers=api.h("alpha"))
    assert pv.json()["community_rule"] is None
    assert ledger_of(api, "alpha")["community_rule"] is None


# -- randomised: no count reveals a share to a member that may not read it ------------------

NAMES = ("m0", "m1", "m2", "m3", "m4")


@pytest.fixture(params=["sqlite", "postgresql"])
def exchange(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Exchange]:
    node = make_node(tmp_path / "node", dict.fromkeys(NAMES, True), store=store_url(request))
    ex = node.exchange()
    try:
        yield ex
    finally:
        ex.store.close()


def reference_readers(ex: Exchange, share_id: str) -> frozenset[str]:
    """Who may read the share, from tests/policy/reference.py (written from the rules),
    less the recipients the community rule still holds it back from."""
    got = ex.store.get_share(share_id)
    assert got is not None
    now = clock.now()
    held = ex.store.read(lambda sql: {r[0] for r in sql.execute(
        "SELECT member_id FROM share_delays WHERE share_id=? AND not_before>?",
        (share_id, now)).fetchall()})
    readers = ref.ref_readers(ex.directory(), got[0].header, got[1], now=now)
    return readers - (held - {got[0].originator})


def all_reports(ex: Exchange) -> dict[str, dict[str, Any]]:
    """Every member's ledger, checked against the naive reference implementation."""
    out = {}
    for m in ex.directory().members:
        out[m] = ledger.report(ex, m)
        assert out[m] == naive_report(ex, m), m
        # the SQL that lets the database aggregate selects exactly what the policy allows
        r = ledger._readable(ex, m)
        assert (r.extra, r.wrong) == ((), ()), m
    return out


def set_state(ex: Exchange, share_id: str, *, recalled: bool, purged: bool) -> None:
    def write(sql: Sql) -> None:
        sql.execute("UPDATE shares SET recalled=?, purged=? WHERE id=?",
                    (recalled, purged, share_id))
    ex.store.write(write)
    ex.envelopes = type(ex.envelopes)(4096)


@pytest.mark.parametrize(("seed", "rule"), [(1, False), (2, True)])
def test_random_shares_change_only_the_ledgers_of_their_readers(exchange: Exchange,
                                                                seed: int, rule: bool) -> None:
    ex = exchange
    rnd = random.Random(seed)
    if rule:  # the community rule on: some AMBER community shares are held back
        delays = ledger.Delays(ex, ledger.CommunityRule(ratio=0.5, hours=1.0, grace=1))
        ex.read_gate = delays
        ex.share_tx_hooks.append(delays)
    d = ex.directory()
    ids = {m.name: m.id for m in d.members.values()}
    members = [ids[n] for n in NAMES]
    channels = []
    for i in range(3):
        owner = rnd.choice(members)
        others = rnd.sample([m for m in members if m != owner], rnd.randint(1, 3))
        channels.append(ex.create_channel(owner, f"c{i}", ChannelKind.GROUP, others).id)
    channels.append(ex.create_channel(members[0], "all", ChannelKind.COMMUNITY, []).id)
    values = feodo_ips(5, skip=20)
    tokens = [bytes([i]) * 32 for i in range(4)]
    steps = 14 if ex.store.dialect == "sqlite" else 8
    for _ in range(steps):
        before = all_reports(ex)
        origin = rnd.choice(members)
        to = []
        if rnd.random() < 0.7:
            to.append(rnd.choice(channels))
        if rnd.random() < 0.4:
            to.append("member:" + d.members[rnd.choice(members)].name)
        tlp = rnd.choice([Tlp.GREEN, Tlp.AMBER, Tlp.AMBER, Tlp.RED])
        body, inds = bundle(*rnd.sample(values, rnd.randint(1, 3)))
        try:
            req = ex.make_request(origin, tlp=tlp, to=to)
            env_channel = req.audience.channel
            pub = ex.publish_bundle(Actor(origin), body, req)
        except (PolicyDenied, NotFound):
            continue
        sid = pub.envelope.id
        if pub.envelope.form.value == "sealed" and env_channel is not None:
            # tokens beside a sealed share (as a client would attach them)
            att = blind.Attachment(sid, env_channel, 1, tuple(sorted(
                set(rnd.sample(tokens, rnd.randint(1, 2))))))

            def add_tokens(sql: Sql, att: blind.Attachment = att, pub: Any = pub) -> None:
                blind.store_tokens(att, sql, pub)
            ex.store.write(add_tokens)
        readers = reference_readers(ex, sid)
        for m in members:
            if rnd.random() < 0.5:
                try:
                    sightings.report(ex, m, sid, inds[0],
                                     rnd.choice(["sighted", "false-positive", "expired"]),
                                     disclose=rnd.random() < 0.5)
                    assert m in readers
                except NotFound:
                    assert m not in readers
            if rnd.random() < 0.5:
                try:
                    ex.share(m, sid)
                    assert m in readers
                except NotFound:
                    assert m not in readers
        k = rnd.random()
        if k < 0.2:
            set_state(ex, sid, recalled=True, purged=False)
        elif k < 0.3:
            set_state(ex, sid, recalled=False, purged=True)
        readers = reference_readers(ex, sid)
        after = all_reports(ex)
        for m in members:
            if m not in readers:
                # the share changed nothing this member sees
                assert after[m] == before[m], (m, sid)
                with pytest.raises(NotFound):
                    sightings.sightings_of_share(ex, m, sid)
                notes, _ = blind.matches(ex, m)
                assert all(sid not in (n["share_id"], n["other_id"]) for n in notes)
            else:
                mine = {r["member"]: r for r in after[m]["members"]}
                was = {r["member"]: r for r in before[m]["members"]}
                assert mine[origin]["shares"] == was[origin]["shares"] + 1
                got = sightings.sightings_of_share(ex, m, sid)
                assert (got["counts"] is not None) == (m == origin)
                for s in got["sightings"]:
                    assert s.get("created_by_ref") in (None, m) or m == origin
            for n in blind.matches(ex, m)[0]:
                for x in (n["share_id"], n["other_id"]):
                    assert m in reference_readers(ex, x)
        state = ex.store.get_share(sid)
        assert state is not None and isinstance(state[1], ShareState)
    if rule:
        held = ex.store.read(lambda sql: sql.execute(
            "SELECT COUNT(*) FROM share_delays").fetchone()[0])
        assert held > 0  # the case was exercised


def test_unknown_viewer_sees_nothing(exchange: Exchange) -> None:
    with pytest.raises(NotFound):
        sightings.sightings_of_share(exchange, "identity--" + str(uuid.uuid4()),
                                     "share--" + str(uuid.uuid4()))


# -- the policy's delay rule against a reference written from docs/policy.md ---------------

def ref_read_delayed(d: Any, mid: str, header: dict[str, Any], state: ShareState, *, now: str,
                     not_before: str | None) -> tuple[bool, str]:
    """Read rule 6 (docs/policy.md): a share the community rule holds back is read by no
    recipient before ``not_before``; every earlier rule and reason stands."""
    r = ref.ref_read(d, mid, header, state, now=now)
    if r.allow and r.reason == ref.OK_RECIPIENT and not_before is not None and \
            not ref.is_past_or_now(not_before, now):
        return False, "policy.delayed"
    return r.allow, r.reason


@given(seeded_scenarios(), st.sampled_from([None, *READ_TIMES, "2024-01-01T00:00:00.000Z"]))
@settings(max_examples=500, deadline=None)
def test_decide_read_with_a_hold_matches_the_reference(sc: Scenario, not_before: str | None
                                                       ) -> None:
    h = sc.other_header
    for mid in all_member_ids(sc.later):
        got = decide_read(sc.later, mid, h, sc.state, now=sc.read_time, not_before=not_before)
        assert (got.allow, got.reason) == ref_read_delayed(
            sc.later, mid, h, sc.state, now=sc.read_time, not_before=not_before)
