"""A subscription's timeout is one timer moved lazily: each wait still times out at its
own deadline, a ring is never taken for a timeout, and a stale timeout (of a wait that
was cancelled) does not end the next wait."""

from __future__ import annotations

import asyncio

from vigil.bus.local import LocalBus

GUARD = 30.0  # only so that a broken wait fails the test instead of hanging it


async def test_a_shorter_wait_after_a_longer_one_times_out_at_its_own_deadline() -> None:
    bus = LocalBus()
    with bus.subscribe("identity--a") as sub:
        waiting = asyncio.ensure_future(sub.wait(3600))
        await asyncio.sleep(0)
        await bus.ring(["identity--a"])
        assert await asyncio.wait_for(waiting, GUARD) is True
        # the timer armed for the hour-long wait must not be the one this wait waits for
        assert await asyncio.wait_for(sub.wait(0.05), GUARD) is False


async def test_a_ring_during_a_wait_is_a_ring_and_the_next_wait_times_out() -> None:
    bus = LocalBus()
    with bus.subscribe("identity--b") as sub:
        for _ in range(20):  # many waits on the same timer
            waiting = asyncio.ensure_future(sub.wait(3600))
            await asyncio.sleep(0)
            await bus.ring(["identity--b"])
            assert await asyncio.wait_for(waiting, GUARD) is True
        assert await asyncio.wait_for(sub.wait(0.05), GUARD) is False
        await bus.ring(["identity--b"])  # rung before the wait: taken at once
        assert await asyncio.wait_for(sub.wait(3600), GUARD) is True


async def test_a_cancelled_waits_timeout_does_not_end_the_next_wait() -> None:
    bus = LocalBus()
    with bus.subscribe("identity--c") as sub:
        waiting = asyncio.ensure_future(sub.wait(0.01))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.sleep(0.1)  # the timer of the cancelled wait fires meanwhile
        waiting = asyncio.ensure_future(sub.wait(3600))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # neither a ring nor its own timeout came
        await bus.ring(["identity--c"])
        assert await asyncio.wait_for(waiting, GUARD) is True
