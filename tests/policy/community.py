"""Random communities on a real node for the access-gate tests.

A community has members (one whose keyring the node does not hold), a community
channel, group and bilateral channels (some members leave a group after publishing),
and many shares of every TLP: to the community, a channel or named members, with and
without the no-onward handling, some expiring before the members read. Then some
recipients' copies are held back by the community rule (rows in ``share_delays``, some
due by the time the members read, some not), some shares are recalled and some purged
(through the node's own recall and purge), a member may be deactivated, and blind-match
rows are stored between
random pairs. Each share's bundle holds one indicator of its own and one IPv4 address
from a small pool, so shares correlate and search finds them.

Everything the reference needs is recorded here as plain facts (headers, states, holds,
the instant the members read at); no rule of the implementation is used.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vigil import clock
from vigil.analysis import blind
from vigil.analysis.correlate import correlator
from vigil.analysis.ledger import CommunityRule, Delays
from vigil.errors import PolicyDenied
from vigil.model import Actor, ChannelKind, ShareState, Tlp
from vigil.node import accountability
from vigil.node.exchange import Exchange
from vigil.storage.base import Sql
from vigil.testing import TestNode, make_node, stix

TLPS = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)


@dataclass
class Share:
    id: str
    header: dict[str, Any]
    indicator: str
    ip: str
    recalled: bool = False
    purged: bool = False

    @property
    def state(self) -> ShareState:
        return ShareState(self.recalled, self.purged)

    @property
    def plain(self) -> bool:
        return bool(self.header["payload"]["form"] == "plain")


@dataclass
class Community:
    node: TestNode
    ex: Exchange
    names: dict[str, str]  # member id -> name
    tokens: dict[str, str]  # member id -> API token
    keys_held: set[str]  # members whose keyring the node holds
    ips: list[str]
    now: str  # the instant every member reads at
    shares: list[Share] = field(default_factory=list)
    holds: dict[tuple[str, str], str] = field(default_factory=dict)  # (share, member) -> t
    blind: list[tuple[str, str]] = field(default_factory=list)  # blind-match pairs

    def members(self) -> list[str]:
        return sorted(self.names, key=self.names.__getitem__)

    def hold(self, share: Share, member: str) -> str | None:
        return self.holds.get((share.id, member))


def _at(base: datetime, **delta: float) -> str:
    return clock.fmt(base + timedelta(**delta))


def bundle(indicator: str, ip: str) -> bytes:
    return stix.bundle(stix.indicator(ip, id=indicator, at="2026-01-01T00:00:00.000Z",
                                      name=f"probe {indicator[-6:]}",
                                      indicator_types=["malicious-activity"]))


def build(rng: random.Random, data: Path, store: str | None, shares: int) -> Community:
    names = [f"m{i}" for i in range(rng.randint(4, 5))]
    unheld = rng.choice(names)
    node = make_node(data, {n: n != unheld for n in names}, store=store)
    ex = node.exchange()
    # the community rule's read gate; its holds are written below, one by one
    ex.read_gate = Delays(ex, CommunityRule(1.0, 24.0, 10**9))
    mid = {n: node.members[n].id for n in names}
    start = datetime.now(UTC)
    c = Community(node, ex, {v: k for k, v in mid.items()},
                  {m.id: m.token for m in node.members.values()},
                  {m.id for m in node.members.values() if m.held},
                  [f"45.77.{rng.randint(1, 250)}.{i}" for i in range(1, 7)],
                  _at(start, hours=2))
    ex.create_channel(mid[names[0]], "everyone", ChannelKind.COMMUNITY, [])
    for i in range(2):
        owner = rng.choice(names)
        others = [n for n in names if n != owner]
        ex.create_channel(mid[owner], f"group{i}", ChannelKind.GROUP,
                          [mid[n] for n in rng.sample(others, rng.randint(1, len(others)))])
    a, b = rng.sample(names, 2)
    ex.create_channel(mid[a], "pair", ChannelKind.BILATERAL, [mid[b]])
    while len(c.shares) < shares:
        _publish(rng, c)
    correlator(ex).process()  # index the plain shares before some go
    _afterwards(rng, c, start)
    return c


def _publish(rng: random.Random, c: Community) -> None:
    ex = c.ex
    who = rng.choice(c.members())
    to: list[str] = []
    tlp = rng.choice(TLPS)
    if rng.random() < 0.35:  # community-wide and plain: these correlate
        tlp = rng.choice((Tlp.CLEAR, Tlp.GREEN))
        to = rng.choice([[], ["everyone"]])
    else:
        if rng.random() < 0.7:
            to.append(rng.choice([ch.id for ch in ex.channels(who)]))
        if rng.random() < 0.3:
            to += [f"member:{c.names[m]}" for m in rng.sample(c.members(), rng.randint(1, 2))]
    indicator, ip = f"indicator--{uuid.uuid4()}", rng.choice(c.ips)
    try:
        req = ex.make_request(who, tlp=tlp, to=to,
                              no_onward=rng.random() < 0.25,
                              expires=rng.choice([None, None, "1h", "3d"]))
        pub = ex.publish_bundle(Actor(who), bundle(indicator, ip), req)
    except PolicyDenied:
        return
    c.shares.append(Share(pub.envelope.id, dict(pub.envelope.header), indicator, ip))


def _afterwards(rng: random.Random, c: Community, start: datetime) -> None:
    ex = c.ex
    d = ex.directory()
    for ch in d.channels.values():  # a member leaves a group after the shares were sent
        if ch.kind is ChannelKind.GROUP and len(ch.members) > 2 and rng.random() < 0.5:
            leaver = rng.choice(sorted(ch.members - {ch.owner}))
            ex.change_channel(ch.owner, ch.id, leaver, add=False)
    rows = []
    for s in c.shares:
        for m in s.header["audience"]["recipients"]:
            if rng.random() < 0.2:  # held back: due by the time members read, or not
                t = _at(start, hours=1) if rng.random() < 0.4 else _at(start, days=1)
                c.holds[(s.id, m)] = t
                rows.append((s.id, m, t, False))
    ex.store.write(lambda sql: sql.executemany(
        "INSERT INTO share_delays(share_id, member_id, not_before, released) "
        "VALUES(?,?,?,?)", rows))
    for s in c.shares:
        roll = rng.random()
        if roll < 0.12:
            accountability.recall(ex, s.header["originator"], s.id)
            s.recalled = True
        elif roll < 0.24:
            accountability.purge(ex, [s.id])
            s.purged = True
        elif roll < 0.28:
            accountability.recall(ex, s.header["originator"], s.id)
            accountability.purge(ex, [s.id])
            s.recalled = s.purged = True
    if rng.random() < 0.5:  # a member is deactivated: it reads nothing any more
        ex.store.set_member_active(rng.choice(c.members()), False)
    pairs = {tuple(rng.sample([s.id for s in c.shares], 2)) for _ in range(len(c.shares))}
    c.blind = sorted((x, y) for x, y in pairs)

    def matched(sql: Sql) -> None:  # as the node records them (blind.store_tokens)
        sql.executemany(
            "INSERT INTO blind_matches(share_id, other_id, channel_id, epoch, tokens, "
            "created) VALUES(?,?,?,?,?,?)",
            [(x, y, f"channel--{uuid.uuid4()}", 1, 3, clock.now()) for x, y in c.blind])
        for x, y in c.blind:
            blind.record_notices(sql, x, [y])

    ex.store.write(matched)
