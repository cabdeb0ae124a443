"""Randomised: no correlation notice, search result or count reveals a share, its id or
its existence to a member that may not read it (both stores).

A random history of publishes (plain and sealed, handling flags, expiries), recalls,
purges, member (de)activations and channel changes runs on a real node; then, for every
member, the notices and search answers are compared with what the independent policy
reference (tests/policy/reference.py) and the hint rule of docs/policy.md allow.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.analysis.helpers import publish
from tests.policy import reference as ref

from vigil import clock, testing
from vigil.analysis.correlate import correlator
from vigil.analysis.observables import Observable, guess
from vigil.analysis.warninglists import WarninglistSet
from vigil.errors import PolicyDenied
from vigil.model import ChannelKind, Directory, ShareState, Tlp
from vigil.node.exchange import Exchange
from vigil.storage.base import Sql
from vigil.testing.stix import bundle, indicator

NAMES = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
POOL = ("45.1.1.1", "45.1.1.0/24", "45.1.0.0/16", "45.2.2.2", "evil.example",
        "http://evil.example/a", "a" * 64)


def pattern(v: str) -> str:
    o = guess(v)
    assert o is not None
    if o.kind == "ip":
        return f"[ipv4-addr:value = '{v}']"
    if o.kind == "domain":
        return f"[domain-name:value = '{v}']"
    if o.kind == "url":
        return f"[url:value = '{v}']"
    return f"[file:hashes.'SHA-256' = '{v}']"


def matches(a: Observable, b: Observable) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind == "ip":
        return ipaddress.ip_network(a.value).overlaps(ipaddress.ip_network(b.value))
    return a.value == b.value


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path
         ) -> Iterator[tuple[testing.TestNode, Exchange]]:
    store = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    n = testing.make_node(tmp_path / "node", dict.fromkeys(NAMES, True), store=store)
    ex = n.exchange()
    m = {k: v.id for k, v in n.members.items()}
    ex.create_channel(m["alpha"], "everyone", ChannelKind.COMMUNITY, [])
    ex.create_channel(m["alpha"], "g1", ChannelKind.GROUP, [m["bravo"], m["charlie"]])
    ex.create_channel(m["delta"], "g2", ChannelKind.GROUP, [m["echo"]])
    ex.create_channel(m["alpha"], "a-b", ChannelKind.BILATERAL, [m["bravo"]])
    try:
        yield n, ex
    finally:
        ex.store.close()


def hint_allowed(d: Directory, mid: str, h: dict[str, Any], s: ShareState, now: str,
                 value: str, other_value: str) -> bool:
    """The hint rule of docs/policy.md, restated."""
    if value != other_value:
        return False
    if not ref.is_active(d, mid) or s.purged or s.recalled:
        return False
    if ref.is_past_or_now(h.get("expires"), now) or h["handling"]["no_onward"]:
        return False
    if h["audience"]["tlp"] not in ("clear", "green", "amber"):
        return False
    ch = d.channels.get(h["audience"]["channel"] or "")
    if ch is None:
        return False
    return ch.kind is ChannelKind.COMMUNITY or mid in ch.members


def run_history(ex: Exchange, n: testing.TestNode, rnd: random.Random
                ) -> dict[str, list[Observable]]:
    """A random history; returns the observables of every plain share published."""
    m = {k: v.id for k, v in n.members.items()}
    ids = list(m.values())
    chans = {c.name: c for c in ex.directory().channels.values()}
    plain: dict[str, list[Observable]] = {}
    published: list[str] = []
    later = clock.fmt(datetime.now(UTC) + timedelta(hours=1))
    late = [m["echo"], m["foxtrot"]]  # join late: not among the recipients of early shares
    for who in late:
        ex.store.set_member_active(who, False)
    for step in range(60):
        if step in (20, 35):
            ex.store.set_member_active(late.pop(), True)
        d = ex.directory()
        active = [i for i in ids if d.members[i].active]
        x = rnd.random()
        if x < 0.6:
            who = rnd.choice(active)
            values = rnd.sample(POOL, rnd.randint(1, 3))
            raw = bundle(*(indicator(pattern=pattern(v)) for v in values))
            opts: dict[str, Any] = {"no_onward": rnd.random() < 0.2,
                                    "expires": later if rnd.random() < 0.2 else None}
            if rnd.random() < 0.7:
                opts["tlp"] = rnd.choice([Tlp.CLEAR, Tlp.GREEN])
                opts["to"] = rnd.choice([(), ("everyone",), ("everyone",)])
            else:
                opts["tlp"] = rnd.choice([Tlp.AMBER, Tlp.AMBER_STRICT])
                opts["to"] = (rnd.choice(["g1", "g2", "a-b", "everyone"]),)
            try:
                pub = publish(ex, who, raw, **opts)
            except PolicyDenied:
                continue
            published.append(pub.envelope.id)
            if pub.envelope.form.value == "plain":
                plain[pub.envelope.id] = [o for v in values if (o := guess(v)) is not None]
        elif x < 0.7 and published:
            sid = rnd.choice(published)
            ex.store.write(lambda sql, sid=sid: sql.execute(
                "UPDATE shares SET recalled=? WHERE id=?", (True, sid)))
        elif x < 0.75 and published:
            sid = rnd.choice(published)
            ex.store.write(lambda sql, sid=sid: sql.execute(
                "UPDATE shares SET purged=? WHERE id=?", (True, sid)))
        elif x < 0.9:
            who = rnd.choice(ids)
            if d.members[who].active and len(active) <= 4:
                continue
            ex.store.set_member_active(who, not d.members[who].active)
        else:
            ch = chans[rnd.choice(["g1", "g2"])]
            who = rnd.choice(ids)
            now = clock.now()
            if who in ex.directory().channels[ch.id].members:
                if who != ch.owner:
                    ex.store.remove_channel_member(ch.id, who, ch.owner, now)
            else:
                ex.store.add_channel_member(ch.id, who, ch.owner, now)
    return plain


def check_member(ex: Exchange, mid: str, plain: dict[str, list[Observable]]) -> set[str]:
    """Check one member's notices and searches; the kinds of notice it got."""
    c = correlator(ex)
    c.process()
    d = ex.directory()
    now = clock.now()

    def read(sql: Sql) -> tuple[list[Any], list[Any]]:
        return (sql.execute("SELECT id, header, recalled, purged FROM shares").fetchall(),
                sql.execute("SELECT pos, share_id, other_id, kind, value, other_value "
                            "FROM correlations WHERE member_id=? ORDER BY pos",
                            (mid,)).fetchall())

    shares, rows = ex.store.read(read)
    heads = {sid: (orjson.loads(bytes(h)), ShareState(bool(r), bool(p)))
             for sid, h, r, p in shares}

    def readable(sid: str) -> bool:
        h, s = heads[sid]
        return ref.ref_read(d, mid, h, s, now=now).allow

    hidden = [sid for sid in heads if not readable(sid)]
    want = []
    hinted: set[tuple[str, str, str, str]] = set()  # one hint per own share, value, channel
    for seq, share, other, kind, value, other_value in rows:
        if not readable(share):
            continue
        if readable(other):
            want.append((seq, "match", other))
        elif hint_allowed(d, mid, *heads[other], now, value, other_value) and (
                key := (share, kind, value, heads[other][0]["audience"]["channel"])
        ) not in hinted:
            hinted.add(key)
            want.append((seq, "hint", None))

    notices, _ = c.notices(mid, 0, 100_000)
    got = [(x["seq"], "match" if "match" in x else "hint",
            x["match"]["share"] if "match" in x else None) for x in notices]
    assert got == want
    for x in notices:
        assert readable(x["share"])
        if "hint" in x:
            assert set(x["hint"]) == {"channel", "channel_name", "text"}
    text = orjson.dumps(notices).decode()
    assert not [sid for sid in hidden if sid in text]

    for v in POOL:
        q = guess(v)
        assert q is not None
        res = c.search(mid, v)
        expect = {sid for sid, obs in plain.items()
                  if readable(sid) and any(matches(q, o) for o in obs)}
        assert {r["share"] for r in res["results"]} == expect
        assert res["count"] == len(expect)
        text = orjson.dumps(res).decode()
        assert not [sid for sid in hidden if sid in text]
    return {kind for _, kind, _ in got}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_notices_and_search_reveal_nothing_unreadable(
        node: tuple[testing.TestNode, Exchange], seed: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    n, ex = node
    c = correlator(ex)
    c._lists = WarninglistSet()  # the pool is made of public-looking test values
    rnd = random.Random(seed)
    plain = run_history(ex, n, rnd)
    ids = [v.id for v in n.members.values()]
    seen = set().union(*(check_member(ex, mid, plain) for mid in ids))
    assert seen == {"match", "hint"}  # the history really correlated, both ways
    # two hours on: the shares with an expiry have expired
    future = clock.fmt(datetime.now(UTC) + timedelta(hours=2))
    monkeypatch.setattr(clock, "now", lambda: future)
    for mid in ids:
        check_member(ex, mid, plain)
