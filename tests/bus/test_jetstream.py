"""NATS JetStream bus: two workers, the message format, outages and late starts.

Outages use a private ``nats-server`` started by the test on a free port (never the
machine's shared server), killed and restarted on the same port.
"""

from __future__ import annotations

import asyncio
import time
import uuid
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.conftest import PrivateNats

from vigil.testing import free_port

nats = pytest.importorskip("nats")
jetstream = pytest.importorskip("vigil.bus.jetstream")
JetStreamBus = jetstream.JetStreamBus

pytestmark = pytest.mark.service

def _prefix() -> str:
    return f"vigiltest{uuid.uuid4().hex[:8]}"



@pytest.fixture
async def raw_js(nats_url: str) -> AsyncIterator[Any]:
    nc = await nats.connect(nats_url)
    try:
        yield nc
    finally:
        await nc.close()


async def _quiet(sub: Any, for_: float = 0.3) -> None:
    """Swallow wake-ups until none comes for ``for_`` seconds."""
    while await sub.wait(for_):
        pass


async def _stream_messages(url: str, stream: str, within: float = 5.0) -> list[Any]:
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(timeout=1)
        deadline = time.monotonic() + within
        while True:
            try:
                info = await js.stream_info(stream)
                if info.state.messages:
                    return [await js.get_msg(stream, seq)
                            for seq in range(info.state.first_seq, info.state.last_seq + 1)]
            except nats.js.errors.NotFoundError:
                pass
            if time.monotonic() > deadline:
                return []
            await asyncio.sleep(0.1)
    finally:
        await nc.close()


# -- two workers -------------------------------------------------------------------

async def test_ring_on_one_worker_wakes_the_other(nats_url: str, raw_js: Any) -> None:
    prefix = _prefix()
    w1 = JetStreamBus(f"{nats_url}?prefix={prefix}")
    w2 = JetStreamBus(f"{nats_url}?prefix={prefix}")
    await w1.start()
    await w2.start()
    try:
        seen: list[Any] = []

        async def spy(msg: Any) -> None:
            seen.append(msg)

        await raw_js.subscribe(f"{prefix}.inbox.*", cb=spy)
        await raw_js.flush()
        here = w1.subscribe("identity--x")
        there = w2.subscribe("identity--x")
        other = w2.subscribe("identity--y")
        await w1.ring(["identity--x", "identity--z"])
        assert await here.wait(0.5) is True  # the same process, at once
        assert await there.wait(2.0) is True  # the other worker, through JetStream
        assert await other.wait(0.2) is False

        # the doorbell: JSON lists of member ids, one message per partition touched
        deadline = time.monotonic() + 2
        while len(seen) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        got = {m.subject: orjson.loads(m.data) for m in seen}
        assert got == {f"{prefix}.inbox.{zlib.crc32(m.encode()) % 16}": [m]
                       for m in ("identity--x", "identity--z")}

        # a ring to many members' partitions goes out as one message
        seen.clear()
        many = [f"identity--{i}" for i in range(40)]
        far = w2.subscribe("identity--7")
        await w1.ring(many)
        assert await far.wait(2.0) is True
        deadline = time.monotonic() + 2
        while not seen and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert [(m.subject, orjson.loads(m.data)) for m in seen] == [
            (f"{prefix}.inbox.all", sorted(many))]

        info = await raw_js.jetstream().stream_info(f"{prefix.upper()}_DOORBELL")
        assert info.config.subjects == [f"{prefix}.inbox.*"]
        assert info.config.max_age == 60 and info.config.max_msgs == 100_000
        assert info.config.storage == nats.js.api.StorageType.MEMORY
    finally:
        await w1.close()
        await w2.close()
        await raw_js.jetstream().delete_stream(f"{prefix.upper()}_DOORBELL")


async def test_close_rings_local_subscribers_and_removes_its_consumer(
        nats_url: str, raw_js: Any) -> None:
    prefix = _prefix()
    stream = f"{prefix.upper()}_DOORBELL"
    bus = JetStreamBus(f"{nats_url}?prefix={prefix}")
    await bus.start()
    js = raw_js.jetstream()
    try:
        assert len(await js.consumers_info(stream)) == 1
        sub = bus.subscribe("identity--a")
        await bus.close()
        assert await sub.wait(0.2) is True
        assert await js.consumers_info(stream) == []
        await bus.ring(["identity--a"])  # after close: no error
    finally:
        await bus.close()
        await js.delete_stream(stream)


def test_bad_urls_are_config_errors() -> None:
    from vigil.errors import ConfigError

    assert jetstream.parse_url("nats://a:4222,b:4222?prefix=hub-1&replicas=3") == (
        ["nats://a:4222", "nats://b:4222"], "hub-1", 3)
    for url in ("nats://h:4222?prefix=a.b", "nats://h:4222?prefix=A", "nats://h?replicas=9",
                "nats://h?color=red", "nats://"):
        with pytest.raises(ConfigError):
            jetstream.parse_url(url)


# -- outages -------------------------------------------------------------------------

async def test_ring_during_an_outage_does_not_raise_and_delivery_resumes(
        private_nats: PrivateNats) -> None:
    private_nats.start()
    url = f"{private_nats.url}?prefix={_prefix()}"
    publisher = JetStreamBus(url, reconnect_wait=0.2)
    worker = JetStreamBus(url, reconnect_wait=0.2)
    await publisher.start()
    await worker.start()
    try:
        local = publisher.subscribe("identity--m")
        remote = worker.subscribe("identity--m")
        await publisher.ring(["identity--m"])
        assert await remote.wait(2.0) is True
        await _quiet(local, 0.1)
        await _quiet(remote)

        private_nats.stop()
        await asyncio.sleep(0.3)
        await publisher.ring(["identity--m"])  # NATS is down: must not raise
        assert await local.wait(0.5) is True  # the publisher's own process still hears it
        assert await remote.wait(0.3) is False

        private_nats.start()  # same port; the memory stream is gone with the old process
        assert await remote.wait(8.0) is True  # rung after reconnecting: re-read the store
        # the ring kept during the outage was published once NATS was back
        msgs = await _stream_messages(private_nats.url, publisher.stream)
        assert [orjson.loads(m.data) for m in msgs][:1] == [["identity--m"]]

        # and the doorbell works again end to end (stream and consumer re-created)
        await _quiet(remote)
        await publisher.ring(["identity--m"])
        assert await remote.wait(3.0) is True
    finally:
        await publisher.close()
        await worker.close()


async def test_start_while_nats_is_down_then_connects(private_nats: PrivateNats) -> None:
    url = f"{private_nats.url}?prefix={_prefix()}"
    bus = JetStreamBus(url, start_timeout=0.3, reconnect_wait=0.2)
    other = JetStreamBus(url, reconnect_wait=0.2)
    t0 = time.monotonic()
    await bus.start()  # returns, serving in-process rings only
    assert time.monotonic() - t0 < 2
    try:
        sub = bus.subscribe("identity--q")
        await bus.ring(["identity--q"])
        assert await sub.wait(0.5) is True
        private_nats.start()
        assert await sub.wait(8.0) is True  # connected and set up: everyone re-reads
        await other.start()
        remote = other.subscribe("identity--q")
        await _quiet(remote, 0.1)
        await bus.ring(["identity--q"])
        assert await remote.wait(3.0) is True
    finally:
        await bus.close()
        await other.close()


# -- two workers serving the API ----------------------------------------------------------

class _Worker:
    """One node worker: its own app, store pool and bus connection, served by uvicorn
    in a thread (only PostgreSQL and NATS are shared, as between processes)."""

    def __init__(self, settings: Any) -> None:
        import threading

        import uvicorn

        from vigil.web import create_app

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 8
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "worker did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=8)


def test_two_workers_on_postgres_and_nats(tmp_path: Path, pg_url: str, nats_url: str) -> None:
    """A share published through one worker reaches a push stream held by another:
    no sticky sessions needed."""
    import json
    import threading

    import httpx

    from vigil.testing import make_node

    prefix = _prefix()
    node = make_node(tmp_path / "node", {"alpha": False, "bravo": False}, store=pg_url)
    settings = node.settings.with_overrides(store=pg_url, bus=f"{nats_url}?prefix={prefix}")
    one, two = _Worker(settings), _Worker(settings)
    events: list[dict[str, Any]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.stream("GET", two.url + "/api/v1/stream", timeout=8.0, headers={
                "Authorization": f"Bearer {node.members['bravo'].token}"}) as r:
            for line in r.iter_lines():
                connected.set()
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                    return

    try:
        one.start()
        two.start()
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert connected.wait(5)
        ts = "2026-11-29T08:00:00.000Z"
        bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [{
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": ts, "modified": ts, "pattern": "[ipv4-addr:value = '192.0.2.1']",
            "pattern_type": "stix", "valid_from": ts}]}
        r = httpx.post(one.url + "/api/v1/shares", params={"tlp": "amber", "to": "member:bravo"},
                       content=json.dumps(bundle).encode(), timeout=10, headers={
                           "Authorization": f"Bearer {node.members['alpha'].token}"})
        assert r.status_code == 201, r.text
        listener.join(5)  # well before the 15 s keep-alive re-read: rung through NATS
        assert [e["share_id"] for e in events] == [r.json()["id"]]
    finally:
        one.stop()
        two.stop()

        async def drop() -> None:
            nc = await nats.connect(nats_url)
            try:
                await nc.jetstream().delete_stream(f"{prefix.upper()}_DOORBELL")
            finally:
                await nc.close()

        asyncio.run(drop())
