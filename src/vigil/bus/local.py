"""The in-process bus: rings subscribers of this process only (the embedded default)."""

from __future__ import annotations

from collections.abc import Iterable

from vigil.bus.base import LocalHub, Subscription


class LocalBus:
    def __init__(self, url: str = "local://") -> None:
        self.url = url
        self.hub = LocalHub()

    @property
    def ready(self) -> bool:
        """In-process: always connected."""
        return True

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        self.hub.ring_all()

    async def ring(self, members: Iterable[str]) -> None:
        self.hub.ring_local(members)

    def subscribe(self, member: str) -> Subscription:
        return self.hub.subscribe(member)
