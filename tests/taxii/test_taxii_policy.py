"""The policy across every TAXII endpoint, against the independent reference.

Each example builds a node with random members (some keyrings held by the node, some
not), channels, shares (random audiences, object versions repeated across shares,
expiries), recalls, leavers and deactivated members; then, for every member, compares
what TAXII shows with what ``tests/policy/reference.py`` says the member may read:
the collections list, every collection (paged with a small random limit), the
manifest, object by id, object versions, and 404s for channels the member is not in.
No object, id or count may differ. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.policy import reference as ref
from tests.taxii.conftest import ROOT, TAXII, indicator

from vigil import clock
from vigil.bus.local import LocalBus
from vigil.errors import PolicyDenied
from vigil.model import Actor, ChannelKind, ShareState, Tlp
from vigil.node.exchange import Exchange
from vigil.taxii.query import norm_time
from vigil.testing import make_node, stix
from vigil.testing.postgres import Databases
from vigil.web import errors as web_errors
from vigil.web import taxii as server
from vigil.web.app import serve
from vigil.web.deps import State

TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
REAL_NOW = clock.now


@dataclass
class Share:
    id: str
    seq: int
    header: dict[str, Any]
    objects: list[tuple[str, str]]  # (id, normalised version)
    recalled: bool = False
    purged: bool = False


@dataclass
class World:
    ex: Exchange
    names: dict[str, str]  # member id -> name
    tokens: dict[str, str]
    held: set[str]
    shares: list[Share] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def build(rng: random.Random, data: Path, store: str | None) -> tuple[World, Any]:
    n = rng.randint(3, 5)
    names = [f"m{i}" for i in range(n)]
    node = make_node(data, {nm: rng.random() < 0.6 for nm in names}, store=store)
    ex = node.exchange()
    mid = {nm: node.members[nm].id for nm in names}
    world = World(ex, {v: k for k, v in mid.items()},
                  {m.id: m.token for m in node.members.values()},
                  {m.id for m in node.members.values() if m.held})
    ex.create_channel(mid["m0"], "everyone", ChannelKind.COMMUNITY, [])
    for c in range(rng.randint(1, 3)):
        owner = rng.choice(names)
        others = [x for x in names if x != owner]
        if rng.random() < 0.4:
            ex.create_channel(mid[owner], f"bi{c}", ChannelKind.BILATERAL,
                              [mid[rng.choice(others)]])
        else:
            ex.create_channel(mid[owner], f"g{c}", ChannelKind.GROUP,
                              [mid[x] for x in rng.sample(others, rng.randint(1, len(others)))])
    return world, node


def act(rng: random.Random, w: World, step: int) -> None:
    d = w.ex.directory()
    members = sorted(d.members, key=lambda m: d.members[m].name)
    who = rng.choice(members)
    roll = rng.random()
    if roll < 0.7:
        chans = [c.id for c in w.ex.channels(who)] if d.members[who].active else []
        to: list[str] = []
        if chans and rng.random() < 0.6:
            to.append(rng.choice(chans))
        if rng.random() < 0.3:
            to += [f"member:{w.names[m]}" for m in rng.sample(members, rng.randint(1, 2))]
        objs = []
        for _ in range(rng.randint(1, 3)):
            if w.ids and rng.random() < 0.4:
                oid = rng.choice(w.ids)  # another version (or a repeat) of an object
            else:
                oid = f"indicator--{uuid.uuid4()}"
                w.ids.append(oid)
            objs.append(indicator(oid, f"2026-0{rng.randint(1, 3)}-01T00:00:00.000Z",
                                      f"probe {oid[-6:]}"))
        if len({(o["id"], o["modified"]) for o in objs}) < len(objs):
            return
        expires = rng.choice([None, None, "1d"])
        try:
            req = w.ex.make_request(who, tlp=rng.choice(TLPS), to=to, expires=expires)
            raw = stix.bundle(*objs)
            pub = w.ex.publish_bundle(Actor(who), raw, req)
        except PolicyDenied:
            return
        got = w.ex.store.read(lambda sql: sql.execute(
            "SELECT seq FROM shares WHERE id = ?", (pub.envelope.id,)).fetchone())
        w.shares.append(Share(pub.envelope.id, int(got[0]), dict(pub.envelope.header),
                              [(o["id"], str(norm_time(o["modified"]))) for o in objs]))
    elif roll < 0.8 and w.shares:
        s = rng.choice(w.shares)
        column = "purged" if rng.random() < 0.25 else "recalled"
        setattr(s, column, True)
        w.ex.store.write(lambda sql: sql.execute(
            f"UPDATE shares SET {column} = ? WHERE id = ?", (True, s.id)))
    elif roll < 0.9:
        groups = [c for c in d.channels.values() if c.kind is ChannelKind.GROUP]
        if groups:
            ch = rng.choice(groups)
            other = rng.choice([m for m in members if m != ch.owner])
            with contextlib.suppress(Exception):
                w.ex.change_channel(ch.owner, ch.id, other, add=other not in ch.members)
    elif sum(m.active for m in d.members.values()) > 2:
        w.ex.store.set_member_active(who, False)


def expected(w: World, member: str, now: str, channel: str | None, versions: str = "last"
             ) -> list[tuple[str, str]]:
    d = w.ex.directory()
    rows: list[tuple[str, str]] = []
    for s in w.shares:
        if s.recalled:  # TAXII serves a recalled share to nobody, its originator included
            continue
        state = ShareState(s.recalled, s.purged)
        if not ref.ref_read(d, member, s.header, state, now=now).allow:
            continue
        if s.header["payload"]["form"] == "sealed" and member not in w.held:
            continue
        if channel is not None and s.header["audience"].get("channel") != channel:
            continue
        rows += [r for r in s.objects if r not in rows]
    if versions == "all":
        return rows
    return [(i, v) for i, v in rows if v == max(v2 for i2, v2 in rows if i2 == i)]


def withheld(w: World, member: str, now: str, channel: str | None) -> int:
    """Sealed shares the member may read that the node cannot open for it."""
    if member in w.held:
        return 0
    d = w.ex.directory()
    return sum(1 for s in w.shares if not s.recalled
               and s.header["payload"]["form"] == "sealed"
               and ref.ref_read(d, member, s.header, ShareState(s.recalled, s.purged),
                                now=now).allow
               and (channel is None or s.header["audience"].get("channel") == channel))


class Reader:
    def __init__(self, client: TestClient, token: str, rng: random.Random) -> None:
        self.client, self.token, self.rng = client, token, rng

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(ROOT + path, params=params, headers={
            "Authorization": f"Bearer {self.token}", "Accept": TAXII})

    def pages(self, path: str, key: str, **params: Any) -> list[Any]:
        self.withheld = 0
        out: list[Any] = []
        nxt = None
        limit = self.rng.randint(1, 4)
        for _ in range(500):
            p = dict(params, limit=limit, **({"next": nxt} if nxt else {}))
            r = self.get(path, **p)
            assert r.status_code == 200, r.text
            doc = r.json()
            self.withheld += int(r.headers.get("X-Vigil-Sealed-Withheld", "0"))
            out += doc.get(key, [])
            assert len(doc.get(key, [])) <= limit
            if not doc["more"]:
                return out
            nxt = doc["next"]
        raise AssertionError("paging does not end")


def check_member(w: World, client: TestClient, member: str, now: str, rng: random.Random
                 ) -> None:
    d = w.ex.directory()
    r = Reader(client, w.tokens[member], rng)
    res = r.get("/collections/")
    if not ref.is_active(d, member):
        assert res.status_code == 401
        return
    assert res.status_code == 200
    cols = {c["alias"]: c for c in res.json()["collections"]}
    visible = {c.id: c for c in d.channels.values() if member in ref.members_of(d, c)}
    assert {a for a in cols if a.startswith("channel-")} == \
        {f"channel-{c.name}" for c in visible.values()}
    assert {a for a in cols if a.startswith("publish-channel-")} == \
        {f"publish-channel-{c.name}-{t}" for c in visible.values()
         for t in ("clear", "green", "amber", "amber-strict")}
    views: list[tuple[str, str | None]] = [(cols["inbox"]["id"], None)]
    views += [(cols[f"channel-{c.name}"]["id"], c.id) for c in visible.values()]
    for cid, channel in views:
        want = expected(w, member, now, channel)
        got = r.pages(f"/collections/{cid}/objects/", "objects")
        assert [(o["id"], norm_time(o["modified"])) for o in got] == want
        assert r.withheld == withheld(w, member, now, channel)
        man = r.pages(f"/collections/{cid}/manifest/", "objects")
        assert [(m["id"], norm_time(m["version"])) for m in man] == want
        every = expected(w, member, now, channel, "all")
        allv = r.pages(f"/collections/{cid}/objects/", "objects", **{"match[version]": "all"})
        assert [(o["id"], norm_time(o["modified"])) for o in allv] == every
        for oid in [*rng.sample(w.ids, min(3, len(w.ids))), f"indicator--{uuid.uuid4()}"]:
            mine = [v for i, v in every if i == oid]
            one = r.get(f"/collections/{cid}/objects/{oid}/")
            vers = r.get(f"/collections/{cid}/objects/{oid}/versions/")
            if not mine:
                assert one.status_code == vers.status_code == 404
                assert one.json()["error_code"] == vers.json()["error_code"] == \
                    "taxii.object_not_found"
                continue
            assert [norm_time(o["modified"]) for o in one.json()["objects"]] == [max(mine)]
            assert [norm_time(v) for v in vers.json()["versions"]] == mine
    # channels the member is not in do not exist for it
    from vigil.taxii.collections import collection_id
    for c in d.channels.values():
        if c.id in visible:
            continue
        hidden = r.get(f"/collections/{collection_id(w.ex.node_id, f'channel/{c.id}')}/objects/")
        missing = r.get(f"/collections/{uuid.uuid4()}/objects/")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error_code"] == missing.json()["error_code"]


def run_example(seed: int, store: str | None, data: Path) -> None:
    rng = random.Random(seed)
    w, node = build(rng, data, store)
    try:
        for step in range(rng.randint(3, 14)):
            act(rng, w, step)
        now = REAL_NOW() if rng.random() < 0.6 else "2099-01-01T00:00:00.000Z"
        # the TAXII router alone: no background work (retention, feeds) moves the state
        # the reference is given while the members read
        app = FastAPI()
        app.include_router(server.router, prefix=server.PREFIX)
        web_errors.install(app)
        serve(app, State(node.settings, w.ex, LocalBus()))
        with mock.patch.object(clock, "now", lambda: now), TestClient(app) as client:
            for member in sorted(w.names, key=w.names.__getitem__):
                check_member(w, client, member, now, rng)
    finally:
        w.ex.store.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_taxii_shows_exactly_what_the_reference_allows_sqlite(seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_example(seed, None, Path(tmp) / "node")


@pytest.mark.service
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_taxii_shows_exactly_what_the_reference_allows_postgres(
        pg_databases: Databases, seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, pg_databases.fresh() as url:
        run_example(seed, url, Path(tmp) / "node")
