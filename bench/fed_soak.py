"""The federation soak: live nodes, one ``vigil serve`` process each on loopback, as real
nodes run; shares at a steady rate, a random node cut off every ``down`` s.

Each node is its own process (SQLite, ``synchronous=FULL``, the product's 1 s heartbeat
and witness cadence), fully peered. Member ``m0@athens`` publishes ``rate`` shares/s to
``m1@berlin`` (up to ``inflight`` publishes open at once, each paced to its slot). Every
``down`` s one of the other nodes (never the publisher's nor the recipient's) is cut off
for ``down`` / 2 s: ``freeze`` stops the process (SIGSTOP: its peers see a silent
blackhole, as in a network partition), ``restart`` stops it (SIGTERM) and starts it again.

Figures:

- **lost**: shares acknowledged (201) by athens and not in m1's store at berlin at the end;
- **cursors equal**: seconds from the last heal (the last cut node back) until every
  node's every link has its sent cursor acknowledged up to its head;
- **RSS** of each node process, sampled every 5 s: at start (peered, idle), at the end of
  the warm-up (``warmup`` s of traffic: caches, pools and SQLite's page cache fill), peak,
  and at the end. *RSS growth* is end over warm-up, per node, for nodes never restarted:
  memory that keeps growing under steady traffic, not the first fill of bounded caches
  (the start → end figure is printed too);
- **witnessed lag** of every ``sample``-th share: publish → berlin proves it witnessed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import summary
from vigil.features import open_exchange
from vigil.federation import peers
from vigil.testing import TestNode, free_port, make_node

NAMES = ["athens", "berlin", "cairo", "dublin", "essen"]
TS = "2026-11-29T08:00:00.000Z"


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory_detail(pid: int) -> dict[str, float]:
    """MiB of anonymous, file-backed and shared memory in the RSS (``smaps_rollup``), with
    the process's thread and open-file counts: what the RSS is made of."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("Rss", "Anonymous", "Pss_File", "Pss_Shmem"):
                out[key.lower()] = round(int(rest.split()[0]) / 1024, 1)
        out["threads"] = len(os.listdir(f"/proc/{pid}/task"))
        out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    return out


def bundle(label: str) -> bytes:
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": TS, "modified": TS, "name": label, "pattern_type": "stix",
        "pattern": "[ipv4-addr:value = '203.0.113.7']", "valid_from": TS}]}).encode()


@dataclass
class Node:
    name: str
    test: TestNode
    port: int
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    restarted: bool = False
    rss: list[tuple[float, float]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def auth(self, member: str | None = None) -> dict[str, str]:
        m = self.test.members[member or next(iter(self.test.members))]
        return {"Authorization": f"Bearer {m.token}"}

    def spawn(self) -> None:
        argv = [sys.executable, "-m", "vigil.cli", "--data", str(self.test.data), "serve",
                "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(argv, env=self.env, stdout=logf,
                                         stderr=subprocess.STDOUT)

    def wait_up(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: "
                                   f"{self.log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer /healthz in {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def sample(self, t: float) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.rss.append((t, rss_mib(self.proc.pid)))


def make(tmp: Path, n: int, extra_env: dict[str, str]) -> list[Node]:
    nodes = []
    for i, name in enumerate(NAMES[:n]):
        test = make_node(tmp / name, {f"m{i}": True}, hybrid=False)
        port = free_port()
        env = dict(os.environ)
        env.update({"VIGIL_FED_NAME": name, "VIGIL_PUBLIC_URL": f"http://127.0.0.1:{port}",
                    "VIGIL_FED_HEARTBEAT": "1.0", "VIGIL_LOG_LEVEL": "warning",
                    "VIGIL_CORRELATION_PROCESSES": "0"})
        env.update(extra_env)
        nodes.append(Node(name, test, port, env, tmp / f"{name}-serve.log"))
    return nodes


def peer_all(nodes: list[Node]) -> None:
    for a in nodes:
        ex = open_exchange(a.test.settings)
        try:
            for b in nodes:
                if b is not a:
                    signed = peers.fetch_descriptor(b.url)
                    peers.add(ex, b.url, signed["descriptor"]["pin"])
        finally:
            ex.store.close()


async def wait_knows(c: httpx.AsyncClient, src: Node, to: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        r = await c.post(src.url + "/api/v1/preview", headers=src.auth(),
                         json={"tlp": "amber", "to": [to]})
        if r.status_code == 200:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{src.name} does not know {to}: {r.text[:300]}")
        await asyncio.sleep(0.2)


async def cursors_equal(c: httpx.AsyncClient, nodes: list[Node]) -> bool:
    for n in nodes:
        try:
            r = await c.get(n.url + "/api/v1/federation/status", headers=n.auth())
        except httpx.HTTPError:
            return False
        if r.status_code != 200:
            return False
        for p in r.json()["peers"]:
            if p["sent"]["acked"] != p["sent"]["head"]:
                return False
    return True


async def soak(nodes_n: int, seconds: float, rate: float, down: float, tmp: Path, *,
               warmup: float = 60.0, inflight: int = 16, sample: int = 10,
               cut: str = "freeze", env: dict[str, str] | None = None) -> dict[str, Any]:
    tmp.mkdir(parents=True, exist_ok=True)
    nodes = make(tmp, nodes_n, env or {})
    try:
        for n in nodes:
            n.spawn()
        for n in nodes:
            n.wait_up()
        peer_all(nodes)
        src = nodes[0]
        limits = httpx.Limits(max_connections=inflight + 8)
        async with httpx.AsyncClient(timeout=120, limits=limits) as c:
            await wait_knows(c, src, "member:m1@berlin")
            return await _run(c, nodes, seconds, rate, down, warmup, inflight, sample, cut)
    finally:
        for n in nodes:
            n.stop()


async def _run(c: httpx.AsyncClient, nodes: list[Node], seconds: float, rate: float,
               down: float, warmup: float, inflight: int, sample: int, cut: str
               ) -> dict[str, Any]:
    src, dst = nodes[0], nodes[1]
    t0 = time.monotonic()
    for n in nodes:
        n.sample(0.0)
    published: dict[str, float] = {}
    failed: list[str] = []
    witnessed: dict[str, float] = {}
    watched: dict[str, float] = {}
    stop = asyncio.Event()
    last_heal = [0.0]
    cuts = [0]
    slots = asyncio.Semaphore(inflight)

    async def publish(k: int) -> None:
        try:
            r = await c.post(src.url + "/api/v1/shares",
                             params={"tlp": "amber", "to": ["member:m1@berlin"]},
                             content=bundle(f"soak {k}"),
                             headers={**src.auth(), "Content-Type": "application/stix+json"})
            if r.status_code in (200, 201):
                sid = r.json()["id"]
                published[sid] = time.monotonic()
                if k % sample == 0:
                    watched[sid] = published[sid]
            else:
                failed.append(f"{r.status_code} {r.text[:200]}")
        except httpx.HTTPError as e:
            failed.append(repr(e))
        finally:
            slots.release()

    async def partitions() -> None:
        others = nodes[2:]
        while others:
            try:
                await asyncio.wait_for(stop.wait(), down)
                return
            except TimeoutError:
                pass
            victim = random.choice(others)
            assert victim.proc is not None
            cuts[0] += 1
            if cut == "freeze":
                victim.proc.send_signal(signal.SIGSTOP)
            else:
                victim.restarted = True
                await asyncio.to_thread(victim.stop)
            await asyncio.sleep(down / 2)
            if cut == "freeze":
                victim.proc.send_signal(signal.SIGCONT)
            else:
                victim.spawn()
                await asyncio.to_thread(victim.wait_up)
            last_heal[0] = time.monotonic()

    async def watch() -> None:
        while not stop.is_set() or any(s not in witnessed for s in watched):
            for sid, t in list(watched.items()):
                if sid in witnessed:
                    continue
                try:
                    r = await c.get(f"{dst.url}/api/v1/federation/witnessed/{sid}",
                                    headers=dst.auth("m1"))
                except httpx.HTTPError:
                    continue
                if r.status_code == 200 and r.json()["witnessed"]:
                    witnessed[sid] = time.monotonic() - t
            if stop.is_set() and time.monotonic() - last_heal[0] > 120:
                return
            await asyncio.sleep(0.25)

    async def memory() -> None:
        i = 0
        while not stop.is_set():
            await asyncio.sleep(5)
            i += 1
            t = time.monotonic() - t0
            for n in nodes:
                n.sample(t)
            if i % 6 == 0:
                progress(t, nodes, len(published), len(failed), len(witnessed), cuts[0])

    tasks = [asyncio.create_task(partitions()), asyncio.create_task(watch()),
             asyncio.create_task(memory())]
    k = 0
    pubs = []
    while time.monotonic() - t0 < seconds:
        await slots.acquire()
        pubs.append(asyncio.create_task(publish(k)))
        k += 1
        await asyncio.sleep(max(0.0, t0 + k / rate - time.monotonic()))
    await asyncio.gather(*pubs)
    sent_for = time.monotonic() - t0
    stop.set()
    await tasks[0]
    for n in nodes:
        n.sample(time.monotonic() - t0)
    detail = {n.name: memory_detail(n.proc.pid) for n in nodes
              if n.proc is not None and n.proc.poll() is None}
    # the later of the last heal and the last publish: the last event that moves a cursor
    healed = max(last_heal[0], t0 + sent_for)
    deadline = time.monotonic() + 300
    while not await cursors_equal(c, nodes):
        if time.monotonic() > deadline:
            raise RuntimeError("cursors not equal 300 s after the last heal")
        await asyncio.sleep(0.1)
    converged = time.monotonic() - healed
    await tasks[1]
    tasks[2].cancel()

    t_check = time.monotonic()
    seen = await inbox_ids(c, dst, "m1")
    missing = [sid for sid in published if sid not in seen]
    duplicated = sum(k - 1 for k in seen.values() if k > 1)
    print(f"[soak] checked {len(seen)} shares in m1's inbox at {dst.name} in "
          f"{time.monotonic() - t_check:.1f} s", flush=True)
    lag = [v * 1000 for v in witnessed.values()]
    return {"nodes": len(nodes), "seconds": seconds, "rate": rate, "cut": cut,
            "cuts": cuts[0], "published": len(published),
            "published_per_s": round(len(published) / sent_for, 1),
            "not_acknowledged": len(failed), "not_acknowledged_first": failed[:3],
            "lost": len(missing), "duplicated": duplicated,
            "witnessed_sampled": len(witnessed),
            "witnessed_lag_ms": summary(lag) if lag else None,
            "cursors_equal_after_heal_s": round(converged, 2),
            "rss_mib": memory_figures(nodes, warmup), "memory_at_end": detail}


async def inbox_ids(c: httpx.AsyncClient, node: Node, member: str) -> dict[str, int]:
    """How many times each share id is in ``member``'s inbox at ``node``: the whole inbox,
    read by pages of 1,000 (seconds for tens of thousands of shares)."""
    seen: dict[str, int] = {}
    after = 0
    while True:
        r = await c.get(node.url + "/api/v1/inbox", headers=node.auth(member),
                        params={"after": after, "limit": 1000})
        r.raise_for_status()
        page = r.json()
        for e in page["entries"]:
            seen[e["share_id"]] = seen.get(e["share_id"], 0) + 1
        if not page["entries"] or page["next"] == after:
            return seen
        after = page["next"]


def progress(t: float, nodes: list[Node], published: int, failed: int, witnessed: int,
             cuts: int) -> None:
    rss = " ".join(f"{n.name} {n.rss[-1][1]:.0f}" for n in nodes if n.rss)
    print(f"[soak] {t:5.0f} s: published {published} ({published / t:.1f}/s), "
          f"not acknowledged {failed}, witnessed {witnessed}, cuts {cuts}; RSS MiB {rss}",
          flush=True)


def memory_figures(nodes: list[Node], warmup: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    growth = []
    for n in nodes:
        if not n.rss:
            continue
        after = [m for t, m in n.rss if t >= warmup] or [n.rss[-1][1]]
        start, end = n.rss[0][1], n.rss[-1][1]
        warm = after[0]
        row: dict[str, Any] = {"start": round(start, 1), "warm": round(warm, 1),
               "peak": round(max(m for _, m in n.rss), 1), "end": round(end, 1),
               "growth_from_warm_pct": round(100 * (end - warm) / warm, 1),
               "growth_from_start_pct": round(100 * (end - start) / start, 1)}
        row["every_30s"] = [round(m) for i, (_, m) in enumerate(n.rss) if i % 6 == 0]
        if n.restarted:
            row["restarted"] = True
        else:
            growth.append(row["growth_from_warm_pct"])
        out[n.name] = row
    out["max_growth_from_warm_pct"] = max(growth) if growth else None
    return out
