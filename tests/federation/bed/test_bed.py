"""The test bed itself, on plain single nodes: namespaces, proxy delay, holds, drops,
and silent isolation (its namespaces: test_netns.py)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from vigil.testbed.netns import node_addr
from vigil.testbed.nodes import Testbed


@pytest.fixture(autouse=True)
def _clean_links(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "plain_bed" in request.fixturenames:
        tb: Testbed = request.getfixturevalue("plain_bed")
        tb.proxy.clear()
        tb.bed.heal()


async def timed_gets(url: str, k: int, timeout: float = 10) -> list[tuple[int, float]]:
    """k GETs on one keep-alive connection: (status, seconds) each."""
    out = []
    async with httpx.AsyncClient(timeout=timeout) as c:
        for _ in range(k):
            t = time.perf_counter()
            r = await c.get(url)
            out.append((r.status_code, time.perf_counter() - t))
    return out


async def outcome(url: str, timeout: float) -> str:
    try:
        async with httpx.AsyncClient(timeout=timeout) as c:
            return str((await c.get(url)).status_code)
    except httpx.TransportError as e:
        return type(e).__name__


def test_each_node_has_its_own_namespace_and_address(plain_bed: Testbed) -> None:
    for i, node in plain_bed.nodes.items():
        addrs = plain_bed.bed.exec_checked(node.ns, ["ip", "-o", "-4", "addr", "show"])
        assert f"{node_addr(i)}/24" in addrs
        assert all(node_addr(j) not in addrs for j in plain_bed.nodes if j != i)
    # nothing of the bed in the namespace the test runs in
    here = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True,
                          text=True).stdout
    assert "10.201." not in here


def test_nodes_reach_each_other_only_through_the_proxy(plain_bed: Testbed) -> None:
    with plain_bed.loop_of(1) as l1:
        got = l1.run(timed_gets(plain_bed.nodes[2].peer_url + "/healthz", 2))
    assert [s for s, _ in got] == [200, 200]
    stats = plain_bed.proxy.stats()["stats"]
    assert stats.get("bytes 1>2", 0) > 0 and stats.get("bytes 2>1", 0) > 0


def test_one_way_delay_adds_to_each_direction(plain_bed: Testbed) -> None:
    url = plain_bed.nodes[2].peer_url + "/healthz"
    plain_bed.proxy.delay([(1, 2)], 150)
    plain_bed.proxy.delay([(2, 1)], 100)
    with plain_bed.loop_of(1) as l1:
        slow = l1.run(timed_gets(url, 3))
        plain_bed.proxy.clear()
        fast = l1.run(timed_gets(url, 3))
    assert all(s == 200 for s, _ in slow + fast)
    # a request and its answer each wait their direction's delay: never less than 250 ms
    assert min(t for _, t in slow) >= 0.25
    assert max(t for _, t in fast[1:]) < min(t for _, t in slow)


def test_a_held_direction_keeps_bytes_silently_and_delivers_them_on_release(
        plain_bed: Testbed) -> None:
    url = plain_bed.nodes[1].peer_url + "/healthz"
    before = plain_bed.proxy.stats()["stats"]
    plain_bed.proxy.hold([(1, 2)])  # node 1 → node 2 only
    with plain_bed.loop_of(2) as l2:
        pending = l2.submit(outcome(url, timeout=60))
        deadline = time.monotonic() + 20
        while plain_bed.proxy.stats()["stats"].get("bytes 2>1", 0) == before.get("bytes 2>1", 0):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        # the request reached node 1, its answer is held: no reset, no answer
        assert not pending.done()
        assert plain_bed.proxy.stats()["stats"].get("bytes 1>2", 0) == before.get("bytes 1>2", 0)
        plain_bed.proxy.release()
        assert pending.result(30) == "200"


def test_a_held_direction_times_out_new_requests(plain_bed: Testbed) -> None:
    plain_bed.proxy.hold([(1, 3)])
    with plain_bed.loop_of(1) as l1:
        assert l1.run(outcome(plain_bed.nodes[3].peer_url + "/healthz", 1.0)) == "ReadTimeout"
        # other links are untouched
        assert l1.run(outcome(plain_bed.nodes[2].peer_url + "/healthz", 10)) == "200"


def test_dropped_connections_fail_and_on_demand_resets(plain_bed: Testbed) -> None:
    url = plain_bed.nodes[3].peer_url + "/healthz"
    with plain_bed.loop_of(2) as l2:
        plain_bed.proxy.drop(1.0)
        dropped = [l2.run(outcome(url, 10)) for _ in range(5)]
        plain_bed.proxy.drop(0.0)
        assert all(d in ("ReadError", "RemoteProtocolError", "ConnectError") for d in dropped)
        assert l2.run(outcome(url, 10)) == "200"
        plain_bed.proxy.hold([(3, 2)])
        sent = plain_bed.proxy.stats()["stats"].get("bytes 2>3", 0)
        pending = l2.submit(outcome(url, 60))
        deadline = time.monotonic() + 20
        while plain_bed.proxy.stats()["stats"].get("bytes 2>3", 0) == sent:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert plain_bed.proxy.reset([(2, 3)]) >= 1
        assert pending.result(30) in ("ReadError", "RemoteProtocolError")


def test_isolating_a_node_is_silent_and_leaves_its_clients(plain_bed: Testbed) -> None:
    plain_bed.bed.isolate(1)
    with plain_bed.loop_of(1) as l1:
        assert l1.run(outcome(plain_bed.nodes[2].peer_url + "/healthz", 1.0)) == \
            "ConnectTimeout"
    with plain_bed.loop_of(2) as l2:
        # node 2 can dial the proxy, but node 1's answers are dropped
        assert l2.run(outcome(plain_bed.nodes[1].peer_url + "/healthz", 1.0)) in \
            ("ReadTimeout", "ConnectTimeout")
    assert plain_bed.client.run(outcome(plain_bed.nodes[1].url + "/healthz", 10)) == "200"
    plain_bed.bed.heal()
    with plain_bed.loop_of(1) as l1:
        assert l1.run(outcome(plain_bed.nodes[2].peer_url + "/healthz", 10)) == "200"


def test_isolating_a_node_silences_its_open_connections_too(plain_bed: Testbed) -> None:
    async def two_gets(url: str) -> list[str]:
        out = []
        async with httpx.AsyncClient(timeout=1.5) as c:
            out.append(str((await c.get(url)).status_code))
            plain_bed.bed.isolate(2)
            try:
                out.append(str((await c.get(url)).status_code))
            except httpx.TransportError as e:
                out.append(type(e).__name__)
        return out

    with plain_bed.loop_of(2) as l2:
        # one keep-alive connection: answered, then silent once node 2 is cut off
        assert l2.run(two_gets(plain_bed.nodes[3].peer_url + "/healthz")) == \
            ["200", "ReadTimeout"]


def test_a_killed_node_stops_answering_and_restarts(plain_bed: Testbed) -> None:
    node = plain_bed.nodes[3]
    node.kill()
    assert not node.running
    with plain_bed.loop_of(1) as l1:
        assert l1.run(outcome(node.peer_url + "/healthz", 5)) in \
            ("ReadError", "RemoteProtocolError", "ConnectError")
        node.start()
        assert l1.run(outcome(node.peer_url + "/healthz", 10)) == "200"


