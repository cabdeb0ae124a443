"""Fairness: one member hammers the node; another's publish -> SSE and /healthz latency.

    python -m bench.fairness                          # SQLite + in-process bus, 3 pairs
    python -m bench.fairness --bundle-mb 8 --seconds 20 --pairs 5
    python -m bench.fairness --payload-apart 0        # large payloads kept in their rows

A server runs in a child process with four members: ``quiet`` publishes a small share
to ``peer`` every ``--gap`` seconds while this process reads ``peer``'s SSE stream and
probes ``/healthz``; ``loud`` runs in a second child process and sends its most expensive
requests as fast as the node answers them, several at a time: searches against a regex
warninglist of 1,000 entries, the largest bundle the node accepts (``--bundle-mb``),
TAXII object pages with wide filters, and ``--streams`` open push streams (its bundles
go to ``sink``, whom nobody measures). The same measurement runs with ``loud`` idle
(quiet figures), then under its load, ``--pairs`` times one after the other on the same
node (after each loaded phase the node is left to finish what ``loud`` had sent, until
it is idle); the result is each loaded p99 over the quiet p99 of its pair, and over the
quiet p99 of every pair together (target: at most 2), with the load average, the
server's and the loud client's CPU (a fraction of one CPU) in each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import uvloop

from bench.common import save, summary
from bench.delivery import small_bundle
from vigil.testing import ServerProcess, free_port, make_node

TS = "2026-11-29T08:00:00.000Z"


def large_bundle(megabytes: float) -> bytes:
    """A valid bundle of about ``megabytes`` MiB: indicators with simple patterns."""
    objs = []
    size = 0
    i = 0
    while size < megabytes * (1 << 20) - 4096:
        obj = {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
               "created": TS, "modified": TS, "name": f"load {i}", "pattern_type": "stix",
               "pattern": f"[domain-name:value = 'h{i}.load.example']", "valid_from": TS,
               "description": "x" * 200}
        size += len(json.dumps(obj)) + 1
        objs.append(obj)
        i += 1
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                       "objects": objs}).encode()


async def loud(url: str, token: str, stop: Path, args: argparse.Namespace,
               out: Path) -> None:
    """Send the member's most expensive requests until ``stop`` exists; count them."""
    counts: dict[str, int] = {}
    took: dict[str, float] = {}  # seconds spent on each kind's completed requests
    h = {"Authorization": f"Bearer {token}"}
    body = large_bundle(args.bundle_mb)
    marker = body[body.index(b"bundle--"):body.index(b"bundle--") + 44]
    async with httpx.AsyncClient(base_url=url, headers=h, timeout=600, limits=httpx.Limits(
            max_connections=None, max_keepalive_connections=None)) as http:
        wl = {"name": "load", "type": "regex", "matching_attributes": ["mutex"],
              "list": [f"^(a+)+{i}$" for i in range(999)] + ["^(a|aa)+$"]}
        (await http.post("/api/v1/warninglists", content=json.dumps(wl))).raise_for_status()
        cols = (await http.get("/taxii2/api/collections/", headers={
            "Accept": "application/taxii+json;version=2.1"})).json()["collections"]
        readable = [c["id"] for c in cols if c.get("can_read")]

        async def forever(name: str, fn: Any) -> None:
            while not stop.exists():
                try:
                    t0 = time.time()
                    await fn()
                    counts[name] = counts.get(name, 0) + 1
                    took[name] = took.get(name, 0.0) + time.time() - t0
                except httpx.HTTPError:
                    counts[name + "_error"] = counts.get(name + "_error", 0) + 1

        async def search() -> None:
            r = await http.get("/api/v1/search", params={"q": "mutex:" + "a" * 1000 + "!"})
            r.raise_for_status()

        async def publish() -> None:
            fresh = body.replace(marker, f"bundle--{uuid.uuid4()}".encode(), 1)
            r = await http.post("/api/v1/shares", params={"tlp": "amber", "to": "member:sink"},
                                content=fresh)
            r.raise_for_status()

        async def taxii() -> None:
            for cid in readable:
                r = await http.get(f"/taxii2/api/collections/{cid}/objects/", params={
                    "match[type]": "indicator,identity,malware,report", "limit": "1000",
                    "match[spec_version]": "2.1"},
                    headers={"Accept": "application/taxii+json;version=2.1"})
                r.raise_for_status()

        async def stream() -> None:
            async with http.stream("GET", "/api/v1/stream",
                                   timeout=httpx.Timeout(600, read=None)) as r:
                async for _ in r.aiter_bytes():
                    if stop.exists():
                        return

        tasks = [asyncio.create_task(forever("stream", stream)) for _ in range(args.streams)]
        for _ in range(args.concurrency):
            tasks += [asyncio.create_task(forever("search", search)),
                      asyncio.create_task(forever("publish", publish)),
                      asyncio.create_task(forever("taxii", taxii))]
        await asyncio.sleep(2.0)  # its requests are in flight
        out.with_suffix(".ready").write_text("ready")
        while not stop.exists():
            await asyncio.sleep(0.2)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    out.write_text(json.dumps({k: {"completed": n, "mean_s": round(took.get(k, 0) / n, 3)}
                               if n and k in took else n for k, n in counts.items()}))


async def measure(url: str, quiet: str, peer: str, seconds: float, gap: float
                  ) -> dict[str, list[float]]:
    """publish -> SSE (quiet -> peer) and /healthz latencies over ``seconds``."""
    sent: dict[str, float] = {}
    arrived: dict[str, float] = {}  # (an event may arrive before its POST is answered)
    health: list[float] = []
    end = time.time() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        ready = asyncio.Event()

        async def listen() -> None:
            async with http.stream("GET", "/api/v1/stream", headers={
                    "Authorization": f"Bearer {peer}"}, timeout=httpx.Timeout(120, read=None)
                    ) as r:
                ready.set()
                async for line in r.aiter_lines():
                    t = time.time()
                    if line.startswith("data:"):
                        arrived.setdefault(json.loads(line[5:])["share_id"], t)

        async def probe() -> None:
            while time.time() < end:
                t0 = time.time()
                (await http.get("/healthz")).raise_for_status()
                health.append((time.time() - t0) * 1000)
                await asyncio.sleep(gap / 2)

        reader = asyncio.create_task(listen())
        await ready.wait()
        prober = asyncio.create_task(probe())
        i = 0
        while time.time() < end:
            t0 = time.time()
            r = await http.post("/api/v1/shares", params={"tlp": "amber", "to": "member:peer"},
                                content=small_bundle(i), headers={
                                    "Authorization": f"Bearer {quiet}"})
            r.raise_for_status()
            sent[r.json()["id"]] = t0
            i += 1
            await asyncio.sleep(gap)
        await prober
        await asyncio.sleep(2.0)  # the last deliveries
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    latency = [(arrived[sid] - t0) * 1000 for sid, t0 in sent.items() if sid in arrived]
    lost = sum(1 for sid in sent if sid not in arrived)
    return {"publish_to_sse_ms": latency, "healthz_ms": health, "lost": [float(lost)]}


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its live children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def settle(pid: int, timeout: float = 180.0) -> float:
    """Wait until the server (with its bundle workers) is idle: under 5 % of a CPU over
    half a second, e.g. after the loud member's cut requests finished. Seconds waited."""
    t0 = time.time()
    last = tree_cpu(pid)
    while time.time() - t0 < timeout:
        time.sleep(0.5)
        now = tree_cpu(pid)
        if now - last < 0.025:
            break
        last = now
    return time.time() - t0


def phase(url: str, quiet: str, peer: str, args: argparse.Namespace, server: int,
          loud_cmd: list[str] | None, tmp: Path, n: int) -> dict[str, Any]:
    """One measured phase, with the loud member's process running if ``loud_cmd``."""
    load, counts, loud_cpu = None, {}, 0.0
    stop, out = tmp / f"stop{n}", tmp / f"loud{n}.json"
    if loud_cmd is not None:
        load = subprocess.Popen([*loud_cmd, str(stop), str(out)])
        ready = out.with_suffix(".ready")  # loud built its bundle, added its list,
        deadline = time.time() + 300       # and has its requests in flight
        while not ready.exists() and load.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        if not ready.exists():
            raise SystemExit("the loud member did not start")
        loud_cpu = tree_cpu(load.pid)
    load_avg = os.getloadavg()[0]
    cpu0, t0 = tree_cpu(server), time.time()
    got = asyncio.run(measure(url, quiet, peer, args.seconds, args.gap))
    cpu = (tree_cpu(server) - cpu0) / (time.time() - t0)
    if load is not None:
        loud_cpu = (tree_cpu(load.pid) - loud_cpu) / (time.time() - t0)
        stop.write_text("stop")
        load.wait(timeout=900)
        counts = json.loads(out.read_text()) if out.exists() else {}
    waited = settle(server)
    return {**got, "load_avg": load_avg, "server_cpu": cpu, "loud_cpu": loud_cpu,
            "loud_requests": counts, "settled_s": waited}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    ap.add_argument("--pairs", type=int, default=3,
                    help="quiet and loaded phases, one after the other, this many times")
    ap.add_argument("--gap", type=float, default=0.1, help="seconds between quiet publishes")
    ap.add_argument("--bundle-mb", type=float, default=31.0, help="size of loud's bundles")
    ap.add_argument("--streams", type=int, default=200, help="loud's open push streams")
    ap.add_argument("--concurrency", type=int, default=4,
                    help="loud's requests of each kind in flight at once")
    ap.add_argument("--payload-apart", type=int, default=None,
                    help="the node's payload_apart setting (0: every payload in its row; "
                         "default: the node's default, 1 MiB)")
    ap.add_argument("--loud-process", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.loud_process:
        url, token, stop, out = args.loud_process
        uvloop.run(loud(url, token, Path(stop), args, Path(out)))
        return
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    if args.payload_apart is not None:
        os.environ["VIGIL_PAYLOAD_APART"] = str(args.payload_apart)
    phases: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        node = make_node(tmp / "node", {"quiet": True, "peer": True, "loud": True,
                                         "sink": True})
        srv = ServerProcess(node.data, port=free_port()).start()
        assert srv.proc is not None
        try:
            m = node.members
            quiet, peer = m["quiet"].token, m["peer"].token
            asyncio.run(measure(srv.url, quiet, peer, 3.0, args.gap))  # warm-up
            loud_cmd = [sys.executable, "-m", "bench.fairness", "--bundle-mb",
                        str(args.bundle_mb), "--streams", str(args.streams),
                        "--concurrency", str(args.concurrency),
                        "--loud-process", srv.url, m["loud"].token]
            for i in range(args.pairs):
                for kind in ("quiet", "loaded"):
                    print(f"pair {i + 1}/{args.pairs}, {kind} phase ({args.seconds:.0f} s"
                          + (f"; loud sends {args.bundle_mb:g} MiB bundles, regex searches, "
                             f"TAXII pages x{args.concurrency} and {args.streams} streams"
                             if kind == "loaded" else "") + ") …", flush=True)
                    phases.append((kind, phase(srv.url, quiet, peer, args, srv.proc.pid,
                                               loud_cmd if kind == "loaded" else None, tmp,
                                               len(phases))))
        finally:
            srv.stop()
    res: dict[str, Any] = {"args": {k: v for k, v in vars(args).items()
                                    if k != "loud_process"}, "pairs": []}
    keys = ("publish_to_sse_ms", "healthz_ms")
    for i in range(args.pairs):
        (_, q), (_, b) = phases[2 * i], phases[2 * i + 1]
        pair: dict[str, Any] = {"load_avg": [round(q["load_avg"], 1), round(b["load_avg"], 1)],
                                "server_cpu": [round(q["server_cpu"], 2),
                                               round(b["server_cpu"], 2)],
                                "loud_cpu": round(b["loud_cpu"], 2),
                                "loud_requests": b["loud_requests"],
                                "lost": [q["lost"][0], b["lost"][0]]}
        for key in keys:
            qs, bs = summary(q[key]), summary(b[key])
            pair[key] = {"quiet": qs, "loaded": bs, "p99_ratio": bs["p99"] / qs["p99"]}
        res["pairs"].append(pair)
        print(f"pair {i + 1}: load average {pair['load_avg'][0]} / {pair['load_avg'][1]}, "
              f"server CPU {pair['server_cpu'][0]} / {pair['server_cpu'][1]}, loud's client "
              f"CPU {pair['loud_cpu']}; " + "; ".join(
                  f"{key} p99 {pair[key]['quiet']['p99']:.1f} / "
                  f"{pair[key]['loaded']['p99']:.1f} ms = {pair[key]['p99_ratio']:.2f}x"
                  for key in keys))
        print(f"        loud's completed requests: {pair['loud_requests']}")
    for key in keys:  # every quiet sample against every loaded one
        qs = summary([v for kind, p in phases if kind == "quiet" for v in p[key]])
        bs = summary([v for kind, p in phases if kind == "loaded" for v in p[key]])
        ratios = sorted(p[key]["p99_ratio"] for p in res["pairs"])
        res[key] = {"quiet": qs, "loaded": bs, "p99_ratio": bs["p99"] / qs["p99"],
                    "pair_ratios": ratios}
        print(f"{key}, all pairs: quiet p50 {qs['p50']:.2f} p99 {qs['p99']:.2f} ms; loaded "
              f"p50 {bs['p50']:.2f} p99 {bs['p99']:.2f} ms; p99 ratio "
              f"{res[key]['p99_ratio']:.2f} (pairs: "
              + ", ".join(f"{r:.2f}" for r in ratios) + ")")
    print(f"saved {save('fairness', res)}")


if __name__ == "__main__":
    main()
