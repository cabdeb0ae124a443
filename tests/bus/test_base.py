"""One contract suite run against every Bus (local, NATS JetStream)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from vigil.bus import Bus, open_bus


@pytest.fixture(params=["local", "nats"])
async def bus_pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Bus, Bus]]:
    """Two buses standing for two workers; for the local bus they are one and the same."""
    if request.param == "local":
        b = open_bus("local://")
        await b.start()
        yield b, b
        await b.close()
        return
    url = request.getfixturevalue("nats_url")
    prefix = f"vigiltest{uuid.uuid4().hex[:8]}"
    b1 = open_bus(f"{url}?prefix={prefix}")
    b2 = open_bus(f"{url}?prefix={prefix}")
    await b1.start()
    await b2.start()
    yield b1, b2
    await b1.delete_stream()  # type: ignore[attr-defined]
    await b1.close()
    await b2.close()


async def test_ring_wakes_only_the_named_inbox(bus_pair: tuple[Bus, Bus]) -> None:
    b1, b2 = bus_pair
    sub_x = b2.subscribe("identity--x")
    sub_y = b2.subscribe("identity--y")
    await asyncio.sleep(0.05)
    await b1.ring(["identity--x"])
    assert await sub_x.wait(2.0) is True
    assert await sub_y.wait(0.3) is False
    sub_x.close()
    sub_y.close()


async def test_rings_coalesce_and_every_subscriber_of_a_member_wakes(
        bus_pair: tuple[Bus, Bus]) -> None:
    b1, b2 = bus_pair
    subs = [b2.subscribe("identity--m") for _ in range(3)]
    await asyncio.sleep(0.05)
    for _ in range(5):
        await b1.ring(["identity--m"])
    for s in subs:
        assert await s.wait(2.0) is True
    await asyncio.sleep(0.2)
    # five rings before a wait collapse into at most one more wake-up
    extra = [await s.wait(0.05) for s in subs]
    for s in subs:
        assert await s.wait(0.05) is False
    assert all(isinstance(e, bool) for e in extra)
    for s in subs:
        s.close()


async def test_closed_subscription_is_not_rung(bus_pair: tuple[Bus, Bus]) -> None:
    b1, b2 = bus_pair
    s = b2.subscribe("identity--z")
    s.close()
    await b1.ring(["identity--z"])
    assert await s.wait(0.2) is False
