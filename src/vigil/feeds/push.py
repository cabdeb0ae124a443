"""Send a channel's shares to an external TAXII 2.1 collection.

Only shares of that channel which the member may pass on (the access gate's
``Access.forward``: readable, not ``no_onward``, a TLP that allows it, or the
member's own) and which this node can open are sent; the others are counted, by
reason. Objects go in envelopes of at most ``BATCH`` objects, and each envelope's
status resource is polled until it completes.

A push keeps its own record per target (member, channel, collection URL): the (id,
version) pairs the server reported added are written down, and a later push sends only
the others — new objects, and those that failed or were still pending.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from vigil.feeds import registry
from vigil.feeds.cursor import instant
from vigil.feeds.pull import object_key
from vigil.feeds.registry import Auth, Key
from vigil.feeds.remote import RemoteCollection
from vigil.model import Envelope, ShareState
from vigil.node.exchange import Exchange
from vigil.policy.access import Access

log = logging.getLogger("vigil.feeds")
BATCH = 500


@dataclass
class PushResult:
    shares: int = 0
    objects: int = 0
    sent: int = 0
    already: int = 0
    success: int = 0
    failure: int = 0
    pending: int = 0
    withheld: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)

    def line(self) -> str:
        held = ", ".join(f"{n} {why}" for why, n in sorted(self.withheld.items()))
        return (f"{self.shares} share(s), {self.objects} object(s): {self.already} sent "
                f"before, {self.success} added, {self.failure} failed, {self.pending} pending"
                + (f"; withheld: {held}" if held else ""))


def _member_shares(exchange: Exchange, member: str) -> Iterator[tuple[Envelope, ShareState]]:
    """Every share in the member's inbox, then every share it sent."""
    seen: set[str] = set()
    after = 0
    while True:
        rows, cursor, more = exchange.inbox_page(member, after, 1000)
        for _entry, env, state in rows:
            if env.id not in seen:
                seen.add(env.id)
                yield env, state
        if cursor == after or (not rows and not more):
            break
        after = cursor
    after = 0
    while True:
        sent, cursor = exchange.sent_page(member, after, 1000)
        if cursor == after:
            break
        after = cursor
        for _seq, env, state in sent:
            if env.id not in seen:
                seen.add(env.id)
                yield env, state


def channel_objects(exchange: Exchange, member_ref: str, channel_ref: str,
                    result: PushResult) -> list[dict[str, Any]]:
    """The STIX objects of the channel's shares the member may pass on, one per
    (id, version)."""
    member = exchange.member(member_ref).id
    channel = exchange.channel(member, channel_ref)
    gate = Access(exchange, member)
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for env, state in _member_shares(exchange, member):
        if env.header["audience"].get("channel") != channel.id:
            continue
        dec = gate.forward(gate.view_of(env, state))
        if not dec:
            result.withheld[dec.reason] += 1
            continue
        if state.recalled:  # its originator's own: the node removed the payload
            result.withheld["recalled"] += 1
            continue
        plain = exchange.open(member, env)
        if plain is None:
            result.withheld["sealed to keys this node does not hold"] += 1
            continue
        result.shares += 1
        for obj in orjson.loads(plain).get("objects", []):
            objects.setdefault(object_key(obj), obj)
    result.objects = len(objects)
    return list(objects.values())


def _delivered(chunk: list[dict[str, Any]], status: dict[str, Any]) -> list[Key]:
    """The (id, version) pairs of a sent chunk that the status reports added."""
    keys = [object_key(o) for o in chunk]
    if not status["failure"] and not status["pending"] and status["success"] == len(chunk):
        return keys
    ok = {(str(s.get("id")), instant(str(s.get("version", ""))))
          for s in status["successes"] if isinstance(s, dict)}
    return [k for k in keys if (k[0], instant(k[1])) in ok]


def push(exchange: Exchange, member_ref: str, channel_ref: str, url: str, collection: str,
         auth: Auth, *,
         batch: int = BATCH, progress: Callable[[PushResult], None] | None = None,
         poll_interval: float = 0.5) -> PushResult:
    """Send what the target has not reported added yet; record what it added."""
    result = PushResult()
    objects = channel_objects(exchange, member_ref, channel_ref, result)
    member = exchange.member(member_ref).id
    channel = exchange.channel(member, channel_ref).id
    with RemoteCollection.open(url, collection, auth) as coll:
        target = f"{member} {channel} {coll.url}"
        done = registry.pushed(exchange.store, target, [object_key(o) for o in objects])
        todo = [o for o in objects if object_key(o) not in done]
        result.already = len(objects) - len(todo)
        for i in range(0, len(todo), batch):
            chunk = todo[i:i + batch]
            status = coll.add(chunk, poll_interval=poll_interval)
            result.sent += len(chunk)
            result.success += int(status["success"] or 0)
            result.failure += int(status["failure"] or 0)
            result.pending += int(status["pending"] or 0)
            result.failures += status["failures"]
            result.statuses.append(str(status["id"]))
            registry.mark_pushed(exchange.store, target, _delivered(chunk, status))
            if progress is not None:
                progress(result)
    log.info("push of %s to %s: %s", channel_ref, url, result.line())
    return result
