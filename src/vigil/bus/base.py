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


class Subscription:
    """A per-subscriber doorbell; ``wait`` returns True when rung, False on timeout."""

    def __init__(self, hub: LocalHub, member: str) -> None:
        self._hub = hub
        self.member = member
        self._event = asyncio.Event()

    def _ring(self) -> None:
        self._event.set()

    async def wait(self, timeout: float | None = None) -> bool:
        if not self._event.is_set():
            try:
                async with asyncio.timeout(timeout):
                    await self._event.wait()
            except TimeoutError:
                return False
        self._event.clear()
        return True

    def close(self) -> None:
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
