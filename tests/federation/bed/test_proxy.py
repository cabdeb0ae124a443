"""The test bed's fault-injecting proxy (``vigil.testbed.proxy``), in process on
loopback: bytes pass both ways, a held link passes nothing until released, a delay holds
each chunk back, a dropped connection is reset, and the control commands answer as
documented."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

from vigil.testbed.proxy import Proxy, parse_route
from vigil.testing import free_port

SRC = 0  # a loopback client is no bed node: source 0


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, int]]:
    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        while data := await r.read(1024):
            w.write(data)
            await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield "127.0.0.1", port


async def through(proxy: Proxy, target: tuple[str, int]) -> int:
    port = free_port()
    await proxy.listen(1, ("127.0.0.1", port), target)
    return port


async def stop(proxy: Proxy) -> None:
    for c in list(proxy.conns):
        c.reset()
    for server in proxy.servers:
        server.close()
        await server.wait_closed()
    while proxy.conns:
        await asyncio.sleep(0.01)


async def roundtrip(port: int, data: bytes, timeout: float = 5) -> bytes:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(data)
        await w.drain()
        return await asyncio.wait_for(r.readexactly(len(data)), timeout)
    finally:
        w.close()
        with contextlib.suppress(OSError):
            await w.wait_closed()


async def test_bytes_pass_and_a_held_link_waits(echo: tuple[str, int]) -> None:
    proxy = Proxy(seed=1)
    port = await through(proxy, echo)
    try:
        assert await roundtrip(port, b"hello") == b"hello"
        assert proxy.stats["bytes 0>1"] == 5 and proxy.stats["bytes 1>0"] == 5
        assert proxy.command({"op": "hold", "links": [[SRC, 1]]}) == {"ok": True}
        assert proxy.command({"op": "stats"})["held"] == [(SRC, 1)]
        pending = asyncio.create_task(roundtrip(port, b"later"))
        await asyncio.sleep(0.3)
        assert not pending.done()  # held: nothing passes
        proxy.command({"op": "release"})
        assert await pending == b"later"
    finally:
        await stop(proxy)


async def test_a_delay_and_a_drop(echo: tuple[str, int]) -> None:
    proxy = Proxy(seed=2)
    port = await through(proxy, echo)
    try:
        proxy.command({"op": "delay", "links": [[SRC, 1], [1, SRC]], "ms": 150})
        start = time.monotonic()
        assert await roundtrip(port, b"slow") == b"slow"
        assert time.monotonic() - start >= 0.3  # held back on the way there and back
        proxy.command({"op": "clear"})
        proxy.command({"op": "drop", "p": 1.0})
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await roundtrip(port, b"x" * 10)
        assert proxy.stats["dropped"] >= 1
        proxy.command({"op": "drop", "p": 0})
        assert await roundtrip(port, b"back") == b"back"
    finally:
        await stop(proxy)


def test_control_commands_and_routes() -> None:
    proxy = Proxy()
    assert proxy.command({"op": "ping"}) == {"ok": True}
    assert proxy.command({"op": "nope"}) == {"ok": False, "error": "unknown op 'nope'"}
    assert proxy.command({"op": "reset"}) == {"ok": True, "reset": 0}
    proxy.command({"op": "delay", "links": [[1, 2]], "ms": 5})
    assert proxy.delay == {(1, 2): 5.0}
    proxy.command({"op": "clear"})
    assert proxy.delay == {} and proxy.drop == 0.0
    assert parse_route("3=10.201.3.1:8470>127.0.0.1:9000") == (
        3,
        ("10.201.3.1", 8470),
        ("127.0.0.1", 9000),
    )
