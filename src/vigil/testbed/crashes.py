"""kill -9 of a random node during traffic, on the bed: nothing acknowledged is lost.

:func:`kill_rounds` kills a random node with SIGKILL (no shutdown code runs), waits a
moment and starts it again, ``rounds`` times. :class:`Publishing` keeps publishing
meanwhile (random sender, one to three random recipients on any node) and records what
each node acknowledged (201). :func:`kill_run` puts them together and ends with the set
check: every acknowledged share reached every entitled member's stream exactly once, and
nobody else. The bed's test runs a few rounds; ``python -m bench.federation
--kill-rounds 50`` runs fifty.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Any

import httpx

from vigil.testbed.federation import Federation, set_check


def kill_rounds(fed: Federation, rounds: int, rng: random.Random,
                between: tuple[float, float] = (0.5, 2.0),
                down: tuple[float, float] = (0.2, 1.0)) -> list[int]:
    """Kill a random node ``rounds`` times (SIGKILL), each after ``between`` seconds of
    traffic, and start it again after ``down`` seconds; the victims, in order."""
    victims = []
    for _ in range(rounds):
        time.sleep(rng.uniform(*between))
        i = rng.choice(sorted(fed.nodes))
        victim = fed.nodes[i].bed
        victim.kill()
        victims.append(i)
        time.sleep(rng.uniform(*down))
        victim.start()
    return victims


class Publishing:
    """Publishes from a thread until stopped: random sender, 1-3 random recipients of
    other nodes or its own; ``acked[share id] = (sender, recipients)`` for each 201."""

    def __init__(self, fed: Federation, seed: int, concurrency: int = 2) -> None:
        self.fed = fed
        self.rng = random.Random(seed)
        self.concurrency = concurrency
        self.acked: dict[str, tuple[str, list[str]]] = {}
        self.refused = 0  # no acknowledgement: the node was down, or the kill cut the answer
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.k = 0

    def start(self) -> Publishing:
        self.thread.start()
        return self

    def _main(self) -> None:
        while not self.stop.is_set():
            self.fed.tb.client.run(self._burst(), timeout=300)

    async def _burst(self) -> None:
        everyone = self.fed.addresses()
        async with httpx.AsyncClient(verify=False, timeout=20) as c:
            async def one() -> None:
                sender = self.rng.choice(everyone)
                to = self.rng.sample([a for a in everyone if a != sender],
                                     self.rng.randint(1, min(3, len(everyone) - 1)))
                self.k += 1
                try:
                    ans = await self.fed.publish(c, sender, [f"member:{a}" for a in to],
                                                 f"kill{self.k}")
                except (httpx.TransportError, httpx.HTTPStatusError):
                    self.refused += 1
                    await asyncio.sleep(0.1)
                    return
                by_id = self.fed.address_of()
                got = sorted(by_id[r] for r in ans["recipients"])
                if got != sorted(to):
                    raise AssertionError(f"acknowledged for {got}, meant for {sorted(to)}")
                self.acked[ans["id"]] = (sender, got)

            await asyncio.gather(*(one() for _ in range(self.concurrency)))

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(120)


def kill_run(fed: Federation, rounds: int, seed: int, timeout: float = 300
             ) -> dict[str, Any]:
    """Publish while a random node is killed ``rounds`` times; then wait (up to
    ``timeout`` s after the last restart) for every acknowledged share on its recipients'
    streams and judge the set. Needs ``fed.streams`` open for every member."""
    assert fed.streams is not None
    streams = fed.streams
    pub = Publishing(fed, seed).start()
    t0 = time.monotonic()
    try:
        victims = kill_rounds(fed, rounds, random.Random(seed + 1))
        time.sleep(1)
    finally:
        pub.finish()
        for fn in fed.nodes.values():
            fn.bed.start()
    t_last = time.monotonic()
    entitled = {sid: ms for sid, (_, ms) in pub.acked.items()}

    def arrived(s: Any) -> bool:
        return all(sid in set(s.shares(m)) for sid, ms in entitled.items() for m in ms)

    done = streams.wait(arrived, timeout)
    received = {m: streams.shares(m) for m in fed.addresses()}
    senders = {sid: sender for sid, (sender, _) in pub.acked.items()}
    check = set_check(entitled, received, fed.addresses(), senders)
    return {"rounds": rounds, "victims": victims, "seconds": round(t_last - t0, 1),
            "acknowledged": len(pub.acked), "not_acknowledged": pub.refused,
            "deliveries_due": sum(len(ms) for ms in entitled.values()),
            "all_arrived": done,
            "arrived_s_after_last_restart": round(time.monotonic() - t_last, 1),
            "lost": sum(len(v) for v in check.lost.values()),
            "duplicated": sum(len(v) for v in check.duplicated.values()),
            "unentitled": sum(len(v) for v in check.unentitled.values()),
            "ok": check.ok and done}
