"""The Bus protocol: a doorbell that says "new entries for these inboxes".

No share data travels on the bus; the store is the only source of truth. A lost
ring only delays delivery until the next ring or reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol


class Bus(Protocol):
    url: str

    @property
    def ready(self) -> bool:
        """Whether rings reach the other processes now (``/readyz``)."""
        ...

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ring(self, members: Iterable[str]) -> None: ...
    def subscribe(self, member: str) -> Subscription: ...


TIMER_SLACK = 0.001  # a timer may fire this much before its time (the loop's resolution)


class Subscription:
    """A per-subscriber doorbell; ``wait`` returns True when rung, False on timeout.

    A share wakes every stream of its recipients at once, and each goes back to
    ``wait`` after it has sent: the timeout is one timer per subscription that is
    moved lazily (``wait`` only notes its deadline; the timer, when it fires early,
    re-arms itself for the deadline), not a timer made and cancelled on every wait,
    which cost about as much as the wake-up itself for a hundred streams."""

    def __init__(self, hub: LocalHub, member: str) -> None:
        self._hub = hub
        self.member = member
        self._event = asyncio.Event()
        self._rung = False
        self._deadline: float | None = None  # when the current wait times out
        self._timer: asyncio.TimerHandle | None = None

    def _ring(self) -> None:
        self._rung = True
        self._event.set()

    def _expire(self) -> None:
        self._timer = None
        if self._deadline is None:  # not waiting: the next wait arms a timer again
            return
        loop = asyncio.get_running_loop()
        if loop.time() + TIMER_SLACK >= self._deadline:
            self._deadline = None
            self._event.set()  # a timeout: wakes the wait, which returns False
        else:
            self._timer = loop.call_at(self._deadline, self._expire)

    async def wait(self, timeout: float | None = None) -> bool:
        if not self._rung:
            if timeout is not None:
                loop = asyncio.get_running_loop()
                self._deadline = loop.time() + timeout
                if self._timer is None or self._timer.when() > self._deadline:
                    if self._timer is not None:
                        self._timer.cancel()
                    self._timer = loop.call_at(self._deadline, self._expire)
            self._event.clear()  # set by a timeout nobody waited for: stale
            try:
                await self._event.wait()
            finally:
                self._deadline = None
        self._event.clear()
        rung, self._rung = self._rung, False
        return rung

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalHub:
    """In-process fan-out of rings to this process's subscribers (used by every bus)."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = {}

    def subscribe(self, member: str) -> Subscription:
        sub = Subscription(self, member)
        self._subs.setdefault(member, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.member)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.member]

    def ring_local(self, members: Iterable[str]) -> None:
        for m in members:
            for sub in self._subs.get(m, ()):
                sub._ring()

    def ring_all(self) -> None:
        for subs in self._subs.values():
            for sub in subs:
                sub._ring()

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subs.values())
