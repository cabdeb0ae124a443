"""Channel items held until every member they name is known here.

A channel homed at one node names members of other nodes, whose announcements travel on
other links: a channel item can come before them. Such an item (``fed.unknown_member``
from ``kinds.check_channel``) is held, not quarantined: stored in ``fed_held`` in the
transaction that moves the cursor past it, so it survives a crash as the cursor does.
A later item of the same channel from the same peer is held behind it, so a channel's
items apply in the order its home node sent them (another peer's item under that
channel id holds nothing up). Each held item records the member it waits for (none:
held behind another). Whenever a member item is applied here (a batch from any peer, a
heartbeat's revocations), the held items are gone through in the order they were held,
in that transaction: one whose member is known now, or the first of its channel that
waits for none, is checked again and applied if every member it names is known (else it
waits for the next one unknown); the others stay as they are.

The holding is bounded, so a channel naming invented members neither stalls the link
(the cursor passes a held item) nor grows the store without end: at most
``fed_hold_items`` items per peer (past it the oldest of that peer is quarantined) and
``fed_hold_seconds`` seconds per item (then it is quarantined). Both quarantine as
``fed.unknown_member`` with the signed batch head and the body as evidence, as any bad
item is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from vigil import clock
from vigil.config import Settings
from vigil.errors import VigilError
from vigil.federation import kinds
from vigil.federation.peers import peer_by_node
from vigil.node.exchange import Exchange
from vigil.storage import federation as q
from vigil.storage.base import Sql

CODE = "fed.unknown_member"  # kinds.check_channel's code for a member unknown here
ITEMS = 256  # items held per peer at most (the setting fed_hold_items)
SECONDS = 3600.0  # seconds an item is held at most (fed_hold_seconds)


class Limits:
    """The bounds of holding on one exchange (``configure``; the defaults without it)."""

    def __init__(self) -> None:
        self.items = ITEMS
        self.seconds = SECONDS


def limits(ex: Exchange) -> Limits:
    return ex.attach(Limits, Limits)[0]


def configure(ex: Exchange, settings: Settings) -> Limits:
    """Take the bounds from ``settings`` (``fed_hold_items``, ``fed_hold_seconds``)."""
    got = limits(ex)
    got.items = max(0, int(settings.fed_hold_items))
    got.seconds = max(0.0, float(settings.fed_hold_seconds))
    return got


def channel_of(kind: str, body: Any) -> str | None:
    """The channel id of a channel item (None: another kind, or no id)."""
    if kind != "channel" or not isinstance(body, Mapping):
        return None
    ch = body.get("channel")
    cid = ch.get("id") if isinstance(ch, Mapping) else None
    return cid if isinstance(cid, str) else None


def behind(sql: Sql, origin: str, kind: str, body: Any) -> bool:
    """Whether an earlier item of this item's channel from ``origin`` is held here (a
    channel's items are ordered by its home node: another peer's item naming the same
    channel id holds nothing up)."""
    cid = channel_of(kind, body)
    return cid is not None and q.held_channel(sql, origin, cid)


def holds(kind: str, body: Any, err: VigilError) -> bool:
    """Whether an item refused with ``err`` is one to hold."""
    return err.code == CODE and channel_of(kind, body) is not None


@dataclass
class Released:
    """What a pass over the held items did (dseqs by origin node)."""

    applied: list[tuple[str, int]]
    quarantined: list[tuple[str, int]]


def missing(sql: Sql, body: Any) -> str | None:
    """The first member (in sorted order) a channel item names that is not known here."""
    try:
        members = sorted(str(m) for m in body["channel"]["members"])
    except (KeyError, TypeError):
        return None
    known = _known(sql, members)
    return next((m for m in members if m not in known), None)


def hold(ex: Exchange, sql: Sql, origin: str, dseq: int, kind: str, body: Any,
         evidence: bytes, now: str) -> list[int]:
    """Hold an item of ``origin``; the dseqs of that origin's items quarantined to keep
    to ``fed_hold_items`` (the oldest first, maybe this one)."""
    cid = channel_of(kind, body)
    assert cid is not None
    waiting = None if q.held_channel(sql, origin, cid) else missing(sql, body)
    q.hold(sql, origin, dseq, kind, cid, waiting, orjson.dumps(body), evidence, now)
    over = q.held_count(sql, origin) - limits(ex).items
    out = []
    for row in q.held_oldest(sql, origin, over) if over > 0 else []:
        _quarantine(sql, row, CODE, f"held past the bound of {limits(ex).items} items "
                    "for members unknown here", now)
        out.append(row[2])
    return out


def _quarantine(sql: Sql, row: q.HeldRow, code: str, message: str, now: str) -> None:
    seq, origin, dseq, kind, _, _, _, evidence, _ = row
    q.quarantine(sql, origin, dseq, kind, code, message, evidence, now)
    q.unhold(sql, seq)


def _before(now: str, seconds: float) -> str:
    t = datetime.fromisoformat(now.replace("Z", "+00:00"))
    return clock.fmt(t - timedelta(seconds=seconds))


def _known(sql: Sql, members: list[str]) -> set[str]:
    out: set[str] = set()
    for i in range(0, len(members), 500):
        out |= q.known_members(sql, members[i:i + 500])
    return out


def release(ex: Exchange, sql: Sql, now: str, *, members: bool) -> Released:
    """In ``sql``'s transaction: quarantine the items held longer than
    ``fed_hold_seconds``; then, if ``members`` (a member item was applied) or one was
    quarantined, apply the held items that can be now, in the order they were held. An
    item is checked again only when the member it waits for is known now, or when it is
    the first of its channel still held and waits for none (it was held behind another);
    an item of a channel with an earlier item still held stays held. So a pass costs
    one read of the held rows and one of the members they wait for, and a full check
    only of the items a new member may let through."""
    out = Released([], [])
    for row in q.held_before(sql, _before(now, limits(ex).seconds)):
        _quarantine(sql, row, CODE, f"held {limits(ex).seconds:g} s for members unknown "
                    "here", now)
        out.quarantined.append((row[1], row[2]))
    if not members and not out.quarantined:
        return out
    rows = q.held_rows(sql)
    known = _known(sql, sorted({r[5] for r in rows if r[5] is not None}))
    blocked: set[tuple[str, str]] = set()  # (origin, channel) with an item held
    for row in rows:
        seq, origin, dseq, kind, channel, waiting, body, _, _ = row
        if (origin, channel) in blocked:
            continue
        if waiting is not None and waiting not in known:
            blocked.add((origin, channel))
            continue
        peer = peer_by_node(sql, origin)
        if peer is None:  # no longer a peer: left to the age bound
            blocked.add((origin, channel))
            continue
        item = orjson.loads(body)
        try:
            write = kinds.check(kinds.Context(ex, peer, sql, now, {}), kind, item)
        except VigilError as e:
            if e.code == CODE:
                blocked.add((origin, channel))
                now_waiting = missing(sql, item)
                if now_waiting is not None:
                    q.set_waiting(sql, seq, now_waiting)
                continue
            _quarantine(sql, row, e.code if e.code.startswith("fed.") else "fed.bad_item",
                        e.message, now)
            out.quarantined.append((origin, dseq))
            continue
        write()
        q.unhold(sql, seq)
        out.applied.append((origin, dseq))
    return out
