"""The leak matrix: every read surface, asked by every member about every item of a
random community, against the independent reference (``tests/policy/reference.py``).

Surfaces: REST (``/shares/{id}``, ``/shares/{id}/content``, ``/shares/{id}/receipts``,
``/inbox``, ``/sent``, ``/channels``, ``/channels/{name}``), the push stream and the
correlation notice stream (their chunks, read until no more follow), the console
(share page, inbox, sent), TAXII (objects list, manifest, object, versions), search,
correlations, sightings, the ledger, the log (``/log/entries``, ``/log/shares/{id}``,
``/log/inclusion``), blind matches and a feed push's objects (forwarding). Each
(member, item, surface) answer is one case; every case must agree with the reference,
on SQLite and on PostgreSQL. The mutation check runs the same matrix against a gate
without its hold check, then without its purge check, and requires disagreements.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.console.conftest import CSRF_RE
from tests.policy import reference as ref
from tests.policy.community import Community, Share, build
from tests.taxii.conftest import ROOT, TAXII

from vigil import clock
from vigil.bus.local import LocalBus
from vigil.feeds.push import PushResult, channel_objects
from vigil.model import Directory, ShareState
from vigil.node import accountability
from vigil.policy import access
from vigil.taxii.collections import collection_id
from vigil.web import create_app
from vigil.web.analysis import NoticeStream
from vigil.web.app import serve
from vigil.web.deps import State
from vigil.web.stream import SseResponse

LINK = re.compile(r'href="/shares/([^"]+)"')


class Reference:
    """What each member may see, from the reference rules and the community's facts."""

    def __init__(self, c: Community, d: Directory) -> None:
        self.c, self.d, self.now = c, d, c.now

    def held(self, m: str, share_id: str) -> bool:
        t = self.c.holds.get((share_id, m))
        return t is not None and self.now < t

    def read(self, m: str, s: Share) -> bool:
        return ref.ref_read_held(self.d, m, s.header, s.state, now=self.now,
                                 not_before=self.c.hold(s, m))

    def notice(self, m: str, s: Share) -> bool:
        return ref.ref_recall_notice(self.d, m, s.header, s.state)

    def delivered(self, m: str, s: Share, notices: bool = True) -> bool:
        """In the member's inbox (and stream): a recipient's readable share, or the
        notice of its recall."""
        return m in s.header["audience"]["recipients"] and (
            self.read(m, s) or (notices and self.notice(m, s)))

    def taxii(self, m: str, s: Share) -> bool:
        """TAXII serves no recalled share, and sealed ones only where the node holds
        the member's keys."""
        return self.read(m, s) and not s.recalled and (s.plain or m in self.c.keys_held)

    def forwarded(self, m: str, s: Share) -> bool:
        """What a feed push passes on: shares the member may forward (the hold included)
        whose payload the node still holds (not recalled) and can open for it."""
        return (ref.ref_forward(self.d, m, s.header, s.state, now=self.now).allow
                and self.read(m, s) and not s.recalled
                and (s.plain or m in self.c.keys_held))

    def searchable(self, m: str, s: Share) -> bool:
        """Search looks in the observables of stored plain payloads (a recall or purge
        removes them)."""
        return self.read(m, s) and s.plain and not s.recalled and not s.purged

    def told(self, m: str, s: Share, other: Share, value: str, other_value: str
             ) -> str | None:
        if not self.read(m, s):
            return None
        if self.read(m, other):
            return "match"
        if ref.ref_hint(self.d, m, other.header, other.state, now=self.now, value=value,
                        other_value=other_value):
            return "hint"
        return None

    def log_entry(self, m: str, entry: dict[str, Any]) -> bool:
        return ref.ref_log_entry(self.d, m, entry) and not (
            "share" in entry and self.held(m, str(entry["share"])))


class Matrix:
    def __init__(self) -> None:
        self.cases = 0
        self.wrong: list[str] = []

    def check(self, surface: str, member: str, item: str, want: Any, got: Any) -> None:
        self.cases += 1
        if want != got:
            self.wrong.append(f"{surface} {member[-6:]} {item}: want {want!r} got {got!r}")


def _paged(get: Callable[[int], dict[str, Any]], key: str) -> list[Any]:
    out: list[Any] = []
    after = 0
    for _ in range(1000):
        doc = get(after)
        out += doc[key]
        if doc["next"] == after:
            return out
        after = doc["next"]
    raise AssertionError("paging does not end")


def _taxii_pages(client: TestClient, h: dict[str, str], path: str) -> list[str]:
    ids: list[str] = []
    nxt = None
    for _ in range(1000):
        r = client.get(ROOT + path, params={"limit": 50, **({"next": nxt} if nxt else {})},
                       headers={**h, "Accept": TAXII})
        assert r.status_code == 200, r.text
        doc = r.json()
        ids += [o["id"] for o in doc.get("objects", [])]
        if not doc.get("more"):
            return ids
        nxt = doc["next"]
    raise AssertionError("paging does not end")


async def _stream(app_state: State, member: str, kind: type[SseResponse] = SseResponse
                  ) -> list[dict[str, Any]]:
    """The events a fresh stream (the push stream, or the correlation notice stream)
    sends the member, chunk by chunk, until no more follow at once."""
    st = State(app_state.settings, app_state.exchange, LocalBus())
    sse = kind(st, member, 0)
    body = b""
    for _ in range(1000):
        chunk, more = await sse._chunk()
        body += chunk
        if not more:
            break
    return [orjson.loads(line[6:]) for line in body.split(b"\n") if line.startswith(b"data: ")]


def ask(c: Community, client: TestClient, state: State) -> Matrix:
    """Every surface, as every member, against the reference."""
    x = Matrix()
    ex = c.ex
    d = ex.directory()
    want = Reference(c, d)
    by_id = {s.id: s for s in c.shares}
    inbox_cid = collection_id(ex.node_id, "inbox")
    size = ex.log.checkpoint()[0].size
    for m in c.members():
        h = {"Authorization": f"Bearer {c.tokens[m]}"}

        def get(path: str, h: dict[str, str] = h, **params: Any) -> Any:
            return client.get("/api/v1" + path, params=params, headers=h)

        if not ref.is_active(d, m):  # a deactivated member is refused everywhere
            for s in c.shares:
                for path in (f"/shares/{s.id}", f"/log/shares/{s.id}", "/inbox", "/sent"):
                    x.check("auth.inactive", m, f"{path}", 401, get(path).status_code)
            continue

        inbox = {e["share_id"] for e in _paged(
            lambda a: get("/inbox", after=a, limit=7).json(), "entries")}
        sent = {e["envelope"]["header"]["id"] for e in _paged(
            lambda a: get("/sent", after=a, limit=7).json(), "shares")}
        stream = {e["share_id"] for e in asyncio.run(_stream(state, m))}
        con = TestClient(client.app, follow_redirects=False)
        page = con.get("/signin")
        token = CSRF_RE.search(page.text)
        assert token is not None
        assert con.post("/signin", data={"csrf": token.group(1),
                                         "token": c.tokens[m]}).status_code == 303
        con_inbox = set(LINK.findall(con.get("/").text))
        con_sent = set(LINK.findall(con.get("/sent").text))
        objects = set(_taxii_pages(client, h, f"/collections/{inbox_cid}/objects/"))
        manifest = set(_taxii_pages(client, h, f"/collections/{inbox_cid}/manifest/"))
        found: dict[str, set[str]] = {}
        for ip in c.ips:
            r = get("/search", q=ip, limit=1000)
            assert r.status_code == 200, r.text
            found[ip] = {x["share"] for x in r.json()["results"]}
        ledger = get("/ledger").json()
        for s in c.shares:
            sid = s.id
            r = get(f"/shares/{sid}")
            x.check("rest.share", m, sid,
                    200 if want.read(m, s) or want.notice(m, s) else 404, r.status_code)
            x.check("rest.content", m, sid, want.read(m, s),
                    get(f"/shares/{sid}/content").status_code != 404)
            x.check("rest.inbox", m, sid, want.delivered(m, s), sid in inbox)
            x.check("rest.sent", m, sid, want.read(m, s) and s.header["originator"] == m,
                    sid in sent)
            x.check("sse.stream", m, sid, want.delivered(m, s), sid in stream)
            x.check("console.share", m, sid, want.read(m, s),
                    con.get(f"/shares/{sid}").status_code != 404)
            x.check("console.inbox", m, sid, want.delivered(m, s, notices=False),
                    sid in con_inbox)
            x.check("console.sent", m, sid, want.read(m, s) and s.header["originator"] == m,
                    sid in con_sent)
            x.check("taxii.objects", m, sid, want.taxii(m, s), s.indicator in objects)
            x.check("taxii.manifest", m, sid, want.taxii(m, s), s.indicator in manifest)
            base = f"{ROOT}/collections/{inbox_cid}/objects/{s.indicator}/"
            x.check("taxii.object", m, sid, want.taxii(m, s), client.get(
                base, headers={**h, "Accept": TAXII}).status_code == 200)
            x.check("taxii.versions", m, sid, want.taxii(m, s), client.get(
                base + "versions/", headers={**h, "Accept": TAXII}).status_code == 200)
            x.check("search", m, sid, want.searchable(m, s), sid in found[s.ip])
            r = get(f"/shares/{sid}/sightings")
            seen = "none" if r.status_code == 404 else \
                "counts" if r.json()["counts"] is not None else "own"
            x.check("sightings", m, sid, "none" if not want.read(m, s) else
                    "counts" if s.header["originator"] == m else "own", seen)
            x.check("log.shares", m, sid, want.read(m, s),
                    get(f"/log/shares/{sid}").status_code == 200)
            x.check("receipts", m, sid, want.read(m, s) and s.header["originator"] == m,
                    get(f"/shares/{sid}/receipts").status_code == 200)
        listed = {ch["name"] for ch in get("/channels").json()["channels"]}
        for ch in d.channels.values():
            x.check("rest.channel", m, ch.name, ref.sees(d, m, ch),
                    get(f"/channels/{ch.name}").status_code == 200)
            x.check("rest.channels", m, ch.name, ref.sees(d, m, ch), ch.name in listed)
            if not ref.sees(d, m, ch):
                continue
            pushed_ids = {o["id"] for o in channel_objects(ex, m, ch.id, PushResult())}
            for s in c.shares:
                if s.header["audience"].get("channel") == ch.id:
                    x.check("feeds.push", m, s.id, want.forwarded(m, s),
                            s.indicator in pushed_ids)
        # the ledger counts, per originator, the shares the viewer may read
        counts = {r["member"]: r["shares"] for r in ledger["members"]}
        for o in sorted(ref.active_members(d)):  # the ledger lists the active members
            x.check("ledger", m, o, sum(1 for s in c.shares if s.header["originator"] == o
                                        and want.read(m, s)), counts.get(o, 0))
        entries = get("/log/entries", start=0, end=size).json()["entries"]
        assert len(entries) == size
        raw = dict(ex.log.entries(0, size))
        for e in entries:
            full = orjson.loads(raw[e["index"]])
            x.check("log.entries", m, f"{e['index']}:{full['kind']}",
                    want.log_entry(m, full), "entry" in e)
        for i in random.Random(m).sample(range(size), min(5, size)):
            x.check("log.inclusion", m, str(i), 200,
                    get("/log/inclusion", index=i, size=size).status_code)
        blind = {(b["share_id"], b["other_id"]) for b in _paged(
            lambda a: get("/blind/matches", after=a, limit=1000).json(), "matches")}
        for a, b in c.blind:
            x.check("blind.matches", m, f"{a}/{b}",
                    want.read(m, by_id[a]) and want.read(m, by_id[b]), (a, b) in blind)
        notices = _paged(lambda a: get("/correlations", after=a, limit=1000).json(),
                         "notices")
        kinds = {n["seq"]: "match" if "match" in n else "hint" for n in notices}
        pushed = {n["seq"]: "match" if "match" in n else "hint"
                  for n in asyncio.run(_stream(state, m, NoticeStream))}
        rows = ex.store.read(lambda sql, m=m: sql.execute(
            "SELECT pos, share_id, other_id, kind, value, other_value FROM correlations "
            "WHERE member_id=? ORDER BY pos", (m,)).fetchall())
        hinted: set[tuple[str, str, str, str]] = set()  # one hint per share, value, channel
        for seq, own, other, kind, value, other_value in rows:
            told = want.told(m, by_id[own], by_id[other], value, other_value)
            if told == "hint":
                key = (own, kind, value, str(by_id[other].header["audience"]["channel"]))
                told = None if key in hinted else told
                hinted.add(key)
            x.check("correlations", m, f"{own}/{other}", told, kinds.get(seq))
            x.check("correlations.stream", m, f"{own}/{other}", told, pushed.get(seq))
        con.close()
    return x


@pytest.fixture
def community_app() -> Iterator[Callable[[int, Path, str | None, int], tuple[
        Community, TestClient, State]]]:
    made: list[Community] = []

    def make(seed: int, data: Path, store: str | None, shares: int
             ) -> tuple[Community, TestClient, State]:
        c = build(random.Random(seed), data, store, shares)
        made.append(c)
        app = create_app(c.node.settings, exchange=c.ex, bus=LocalBus())
        # the routers without the lifespan: no retention or feed task moves the state
        # the reference is given while the members read
        state = State(c.node.settings, c.ex, LocalBus())
        serve(app, state)
        accountability.install(c.ex)
        return c, TestClient(app, raise_server_exceptions=False), state

    yield make
    for c in made:
        c.ex.store.close()


def run(c: Community, client: TestClient, state: State) -> Matrix:
    with mock.patch.object(clock, "now", lambda: c.now):
        return ask(c, client, state)


def test_every_surface_agrees_with_the_reference_sqlite(
        tmp_path: Path, community_app: Any) -> None:
    c, client, state = community_app(2026, tmp_path / "node", None, 34)
    x = run(c, client, state)
    assert x.wrong == [], f"{len(x.wrong)} of {x.cases}: " + "\n".join(x.wrong[:40])
    assert x.cases >= 2000


@pytest.mark.service
def test_every_surface_agrees_with_the_reference_postgres(
        tmp_path: Path, pg_url: str, community_app: Any) -> None:
    c, client, state = community_app(7, tmp_path / "node", pg_url, 34)
    x = run(c, client, state)
    assert x.wrong == [], f"{len(x.wrong)} of {x.cases}: " + "\n".join(x.wrong[:40])
    assert x.cases >= 2000


def test_the_matrix_catches_a_gate_without_its_hold_or_purge_check(
        tmp_path: Path, community_app: Any) -> None:
    c, client, state = community_app(13, tmp_path / "node", None, 26)
    assert any(c.now < t for t in c.holds.values()) and any(s.purged for s in c.shares)
    real_views, real_read = access.Access.views, access.decide_read

    def no_hold(self: access.Access, rows: Any) -> list[access.ShareView]:
        return [access.ShareView(v.share_id, v.header, v.state, None)
                for v in real_views(self, rows)]

    with mock.patch.object(access.Access, "views", no_hold):
        unheld = run(c, client, state)

    def no_purge(directory: Any, member: str, header: Any, state: ShareState,
                 **kw: Any) -> Any:
        return real_read(directory, member, header, ShareState(state.recalled, False), **kw)

    with mock.patch.object(access, "decide_read", no_purge):
        unpurged = run(c, client, state)
    assert any(w.startswith(("rest.share", "rest.inbox")) for w in unheld.wrong), unheld.wrong
    assert any(w.startswith(("rest.sent", "rest.share")) for w in unpurged.wrong), \
        unpurged.wrong
