"""Several `vigil serve` processes on one PostgreSQL and one NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path

import httpx
import pytest
from tests.conftest import PrivateNats

from vigil.client import Client, InboxItem
from vigil.testing import ServerProcess, make_node
from vigil.testing.stix import canary_bundle as bundle_with
from vigil.testing.stix import ioc_bundle

pytestmark = pytest.mark.slow


def workers(data: Path, pg_url: str, bus_url: str, n: int = 2) -> list[ServerProcess]:
    env = {"VIGIL_STORE": pg_url, "VIGIL_BUS": bus_url}
    return [ServerProcess(data, env=env).start() for _ in range(n)]


async def collect(client: Client, into: list[InboxItem], stop: asyncio.Event) -> None:
    async for item in client.stream(0):
        into.append(item)
        if stop.is_set():
            return


async def stop_all(task: asyncio.Task[None], sub: Client, *servers: ServerProcess) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    sub.close()
    for srv in servers:
        srv.kill()


def publish_one(url: str, token: str, i: int) -> str | None:
    """Publish through one worker; the share id if acknowledged, None if not."""
    try:
        with Client(url, token) as c:
            return str(c.publish(bundle_with(f"w{i}", 1), tlp="amber",
                                 to=["member:bravo"])["id"])
    except Exception:
        return None


async def test_kill_9_of_either_worker_loses_nothing_and_duplicates_nothing(
        tmp_path: Path, pg_url: str, nats_url: str) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True}, store=pg_url)
    bus = f"{nats_url}?prefix=vt{uuid.uuid4().hex[:8]}"
    w1, w2 = workers(node.data, pg_url, bus)
    a, b = node.members["alpha"], node.members["bravo"]
    received: list[InboxItem] = []
    stop = asyncio.Event()
    sub = Client(w2.url, b.token)
    task = asyncio.create_task(collect(sub, received, stop))
    await asyncio.sleep(0.5)
    acked: list[str] = []
    try:
        for i in range(30):
            if i == 10:  # kill the subscriber's worker, then bring it back on its port
                w2.kill()
                w2 = ServerProcess(node.data, env=w2.env, port=w2.port).start()
            target = w1
            if i == 20:  # kill the publisher's worker: publish through the other one
                w1.kill()
            if i >= 20:
                target = w2
            sid = await asyncio.to_thread(publish_one, target.url, a.token, i)
            if sid is not None:
                acked.append(sid)
        deadline = asyncio.get_running_loop().time() + 180  # at most; a busy machine is slow
        while len({r.share_id for r in received}) < len(acked):
            assert asyncio.get_running_loop().time() < deadline, \
                f"delivery stalled: {len(received)} of {len(acked)} received"
            await asyncio.sleep(0.1)
        stop.set()
    finally:
        await stop_all(task, sub, w1, w2)
    ids = [r.share_id for r in received]
    assert len(acked) >= 29
    assert ids == acked  # every acknowledged share, in order, none twice
    seqs = [r.seq for r in received]
    assert seqs == sorted(set(seqs))


async def test_nats_outage_delays_but_loses_nothing(
        tmp_path: Path, pg_url: str, private_nats: PrivateNats) -> None:
    private_nats.start()
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True}, store=pg_url)
    w1, w2 = workers(node.data, pg_url, private_nats.url)
    a, b = node.members["alpha"], node.members["bravo"]
    received: list[InboxItem] = []
    stop = asyncio.Event()
    sub = Client(w2.url, b.token)
    task = asyncio.create_task(collect(sub, received, stop))
    try:
        await asyncio.sleep(0.5)
        first = await asyncio.to_thread(publish_one, w1.url, a.token, 0)
        assert first is not None
        for _ in range(50):
            if received:
                break
            await asyncio.sleep(0.1)
        assert [r.share_id for r in received] == [first]  # through NATS, worker 1 -> 2
        private_nats.stop()
        during = [await asyncio.to_thread(publish_one, w1.url, a.token, i) for i in range(1, 6)]
        assert all(during), "publishing failed while NATS was down"
        await asyncio.sleep(1.0)
        private_nats.start()
        deadline = asyncio.get_running_loop().time() + 20
        while len(received) < 6:
            assert asyncio.get_running_loop().time() < deadline, \
                f"delivery did not resume: {len(received)} of 6"
            await asyncio.sleep(0.1)
        stop.set()
        assert [r.share_id for r in received] == [first, *during]
        health = httpx.get(w2.url + "/healthz", timeout=5)
        assert health.status_code == 200
    finally:
        await stop_all(task, sub, w1, w2)


async def test_a_notice_found_on_one_worker_is_pushed_by_the_other(
        tmp_path: Path, pg_url: str, nats_url: str) -> None:
    """The correlation pass runs where the share was published (worker 1); the notice
    doorbell crosses JetStream to the stream open on worker 2."""
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True}, store=pg_url)
    bus = f"{nats_url}?prefix=vt{uuid.uuid4().hex[:8]}"
    w1, w2 = workers(node.data, pg_url, bus)
    a, b = node.members["alpha"], node.members["bravo"]
    try:
        with Client(w1.url, a.token) as ca, Client(w1.url, b.token) as cb, \
                Client(w2.url, b.token) as sub:
            first = ca.publish(ioc_bundle("45.77.12.0/24"), tlp="green")["id"]
            stream = sub.notices_stream(0)
            got = asyncio.ensure_future(anext(stream))
            await asyncio.sleep(1.0)  # the stream is open and waits for its doorbell
            second = await asyncio.to_thread(
                lambda: cb.publish(ioc_bundle("45.77.12.7"), tlp="green")["id"])
            notice = await asyncio.wait_for(got, 10)
            await stream.aclose()
        assert notice["share"] == second and notice["match"]["share"] == first
    finally:
        w1.kill()
        w2.kill()
