"""The cost of one ring that wakes many push streams' doorbells (``vigil.bus``).

    python -m bench.bus_ring                     # 100 waiters, 300 rings
    PYTHONPATH=OTHER_TREE/src python -m bench.bus_ring   # the same for another tree

Each waiter does what a push stream does between shares: wait on its subscription with
the keep-alive timeout, and wait again as soon as it is rung. Printed: the wall time
from a ring until every waiter is back waiting, and the event loop's CPU per ring.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from vigil.bus.base import LocalHub, Subscription


async def run(waiters: int, rings: int, keepalive: float) -> tuple[float, float]:
    hub = LocalHub()
    names = [f"identity--{i}" for i in range(waiters)]
    subs = [hub.subscribe(n) for n in names]
    back = asyncio.Event()
    woken = 0

    async def stream(sub: Subscription) -> None:
        nonlocal woken
        while True:
            await sub.wait(keepalive)
            woken += 1
            if woken == waiters:
                back.set()

    tasks = [asyncio.ensure_future(stream(s)) for s in subs]
    await asyncio.sleep(0.01)
    wall = 0.0
    cpu0 = time.thread_time()
    for _ in range(rings):
        woken = 0
        back.clear()
        t0 = time.perf_counter()
        hub.ring_local(names)
        await back.wait()
        wall += time.perf_counter() - t0
        await asyncio.sleep(0)
    cpu = time.thread_time() - cpu0
    for t in tasks:
        t.cancel()
    return wall / rings, cpu / rings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--waiters", type=int, default=100)
    ap.add_argument("--rings", type=int, default=300)
    ap.add_argument("--keepalive", type=float, default=15.0)
    args = ap.parse_args()
    wall, cpu = uvloop.run(run(args.waiters, args.rings, args.keepalive))
    print(f"one ring to {args.waiters} waiters: {wall * 1e6:,.0f} µs until all wait again, "
          f"{cpu * 1e6:,.0f} µs of CPU")


if __name__ == "__main__":
    main()
