"""TAXII answers against an independent reference, over random histories.

The reference knows nothing of the index: it keeps, per member, the list of shares the
member was given (its own, and those addressed to it, in the order they reached it; a
share a read gate held back moves to the end, added then) and decides readability from
what the history says (originator or recipient, not recalled, not held back), then
lists the objects of the readable shares of a collection, applies the filters and the
version rules of docs/taxii.md, and pages nowhere. The node is driven through random
publishes (community, channels, named recipients, every TLP the policy takes), recalls
and read-gate holds and releases, and after each step every member reads random
collections through ``ExchangeSource.page`` with random limits, filters and
``added_after``, paging with ``next`` to the end.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import orjson
import pytest
from tests.taxii.conftest import Holds

from vigil import clock
from vigil.errors import VigilError
from vigil.model import Actor, Form, Tlp
from vigil.node.accountability import recall
from vigil.node.exchange import Exchange
from vigil.taxii.collections import Collection
from vigil.taxii.query import Query
from vigil.taxii.view import ExchangeSource
from vigil.testing import TestNode

START = datetime(2026, 6, 1, tzinfo=UTC)


class Clock:
    """The node's time, moved by the test only."""

    def __init__(self) -> None:
        self.t = START

    def now(self) -> str:
        return clock.fmt(self.t)

    def step(self) -> str:
        self.t += timedelta(milliseconds=10)
        return self.now()


@dataclass
class Shared:
    id: str
    originator: str
    recipients: frozenset[str]
    channel: str
    tlp: str
    sealed: bool
    objects: list[dict[str, Any]]
    recalled: bool = False


@dataclass
class Reference:
    """What each member was given and may read, from the history alone."""

    held_keys: frozenset[str]
    shares: dict[str, Shared] = field(default_factory=dict)
    given: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (share, added)
    holds: dict[tuple[str, str], str] = field(default_factory=dict)

    def publish(self, s: Shared, at: str, hold: tuple[str, str] | None) -> None:
        self.shares[s.id] = s
        for m in sorted(s.recipients | {s.originator}):
            self.given.setdefault(m, []).append((s.id, at))
        if hold is not None:
            self.holds[(hold[0], s.id)] = hold[1]

    def read(self, member: str, now: str) -> None:
        """The member reads: the shares held back from it that are due join its end."""
        for key in [k for k, until in self.holds.items() if k[0] == member and until <= now]:
            del self.holds[key]
            given = self.given[member]
            given[:] = [g for g in given if g[0] != key[1]] + [(key[1], now)]

    def readable(self, member: str, s: Shared) -> bool:
        if s.recalled:
            return False
        if member == s.originator:
            return True
        return member in s.recipients and (member, s.id) not in self.holds

    def answer(self, member: str, where: Collection, q: Query
               ) -> tuple[list[tuple[str, str, str]], int]:
        """(id, version, added) of every object a paging returns, and the sealed shares
        it withholds."""
        entries = []  # (added, share) in the member's order, readable, in the collection
        for share_id, added in self.given.get(member, []):
            s = self.shares[share_id]
            if not self.readable(member, s):
                continue
            channel = where.channel if where.channel is not None else \
                ((where.to[0] if where.to else "") if where.tlp is not None else None)
            if channel is not None and s.channel != channel:
                continue
            if where.tlp is not None and s.tlp != where.tlp.value:
                continue
            entries.append((added, s))
        opens = member in self.held_keys
        versions: dict[str, set[str]] = {}
        for _, s in entries:
            if s.sealed and not opens:
                continue
            for o in s.objects:
                versions.setdefault(o["id"], set()).add(norm(o["modified"]))
        out, withheld, seen = [], 0, set()
        for added, s in entries:
            after = q.added_after is None or added > q.added_after
            if s.sealed and not opens:
                withheld += after
                continue
            for o in s.objects:
                key = (o["id"], norm(o["modified"]))
                if key in seen:
                    continue
                seen.add(key)
                if not after or (q.types and o["type"] not in q.types) or \
                        (q.ids and o["id"] not in q.ids):
                    continue
                vs = versions[o["id"]]
                if any(w == "all" or w == key[1] or (w == "last" and key[1] == max(vs))
                       or (w == "first" and key[1] == min(vs)) for w in q.versions):
                    out.append((key[0], key[1], added))
        return out, withheld


def norm(t: str) -> str:
    """STIX millisecond times as the index keeps versions (nanoseconds)."""
    return t[:-1] + "000000Z"


def obj(kind: str, oid: str, version: int) -> dict[str, Any]:
    at = (START + timedelta(seconds=version)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    base = {"spec_version": "2.1", "id": oid, "created": "2026-01-01T00:00:00.000Z",
            "modified": at}
    if kind == "indicator":
        return {**base, "type": "indicator", "pattern": "[ipv4-addr:value = '203.0.113.9']",
                "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00.000Z",
                "name": f"{oid} v{version}"}
    return {**base, "type": "malware", "name": f"{oid} v{version}", "is_family": True}


def page_all(src: ExchangeSource, member: str, where: Collection, q: Query
             ) -> tuple[list[tuple[str, str, str]], int]:
    out: list[tuple[str, str, str]] = []
    withheld = 0
    cursor = None
    for _ in range(10_000):
        page = src.page(Actor(member), where, Query(
            limit=q.limit, added_after=q.added_after, cursor=cursor, ids=q.ids,
            types=q.types, versions=q.versions))
        out += [(i.id, i.version, i.added) for i in page.items]
        withheld += page.withheld
        if not page.more:
            return out, withheld
        assert page.next is not None and page.items
        cursor = page.next
    raise AssertionError("the paging did not end")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_taxii_answers_are_the_readable_shares_objects(node: tuple[TestNode, Exchange],
                                                       seed: int) -> None:
    n, ex = node
    rnd = random.Random(seed)
    now = Clock()
    members = {name: m.id for name, m in n.members.items()}
    ids = sorted(members.values())
    authors = [members[x] for x in ("alpha", "bravo", "charlie")]  # keys the node holds
    gate = Holds(ex)
    ex.read_gate = gate
    ref = Reference(frozenset(ex.held))
    src = ExchangeSource(ex)
    pool = [f"{k}--00000000-0000-4000-8000-{i:012d}"
            for i, k in enumerate(["indicator", "malware"] * 6)]
    times = [now.now()]
    with mock.patch.object(clock, "now", now.now):
        for _ in range(50):
            at = now.step()
            times.append(at)
            roll = rnd.random()
            if roll < 0.15 and ref.shares:  # a recall of a share still standing
                standing = [s for s in ref.shares.values() if not s.recalled]
                if standing:
                    s = rnd.choice(standing)
                    recall(ex, s.originator, s.id)
                    s.recalled = True
            else:
                who = rnd.choice(authors)
                chans = [c.id for c in ex.channels(who)]
                how = rnd.choice(["community", "channel", "named"])
                tlp = rnd.choice([Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.RED])
                to: tuple[str, ...] = ()
                if how == "channel" and chans:
                    to = (rnd.choice(chans),)
                elif how == "named":
                    to = tuple(rnd.sample(ids, rnd.randint(1, len(ids))))
                chosen = rnd.sample(pool, rnd.randint(1, 3))
                objects = [obj(oid.split("--")[0], oid, rnd.randint(1, 3)) for oid in chosen]
                raw = orjson.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-"
                                    f"8000-{len(times):012d}", "objects": objects})
                try:
                    pub = ex.publish_bundle(Actor(who), raw, ex.make_request(who, tlp=tlp,
                                                                             to=to))
                except VigilError:
                    continue  # a request the policy refuses stores nothing
                env = pub.envelope
                hold = None
                others = sorted(set(pub.recipients) - {who})
                if others and rnd.random() < 0.3:
                    until = clock.fmt(now.t + timedelta(milliseconds=rnd.choice([5, 25, 60])))
                    hold = (rnd.choice(others), until)
                    gate.held[(hold[0], env.id)] = until
                ref.publish(Shared(env.id, who, frozenset(pub.recipients), env.channel or "",
                                   env.tlp.value, env.form is Form.SEALED, objects), at, hold)
            for name, member in members.items():
                if rnd.random() < 0.5:
                    continue
                collections = [c for c in src.collections(Actor(member))
                               if c.tlp in (None, Tlp.GREEN, Tlp.AMBER)]
                channels = [c for c in collections if c.channel is not None]
                where = rnd.choice([collections[0], collections[0], *channels[:1],
                                    rnd.choice(collections)])  # inbox the most
                ask = rnd.choice([("last",), ("first",), ("all",), ("last", "first"),
                                  (norm(obj("indicator", "x", rnd.randint(1, 3))["modified"]),)])
                q = Query(limit=rnd.randint(1, 6), versions=ask,
                          added_after=rnd.choice([None, None, rnd.choice(times)]),
                          types=rnd.choice([(), (), ("malware",), ("indicator",)]),
                          ids=rnd.choice([(), (), (rnd.choice(pool),)]))
                got = page_all(src, member, where, q)
                ref.read(member, now.now())
                want = ref.answer(member, where, q)
                assert got == want, (name, where.alias, q)
