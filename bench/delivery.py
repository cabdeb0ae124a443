"""Publish -> SSE delivery latency with many live subscribers, against a real server.

    python -m bench.delivery                      # SQLite + in-process bus, 100 subscribers
    python -m bench.delivery --store postgresql://… --bus nats://… --workers 2
    python -m bench.delivery --client-signs       # the publisher signs on its own client

A server runs in a child process (or two, sharing PostgreSQL + NATS); a second child
holds the subscribers' SSE streams (one member each, spread over the workers); this
process publishes small community shares one at a time and records, for every
subscriber, the time from the start of the publish request to the event's arrival.
By default the node holds the publisher's keyring and signs each share in the publish
request (``POST /api/v1/shares``); with ``--client-signs`` the publisher signs here,
as a member with its own keys does (``POST /api/v1/envelopes``, the node verifies),
and the client's signing time is measured apart, before the publish starts.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import orjson
import uvloop

from bench.common import save, summary
from vigil.crypto.keyring import Keyring
from vigil.model import Audience, Form, Handling, Tlp
from vigil.protocol.envelope import build_share, envelope_to_json
from vigil.testing import ServerProcess, free_port, make_node

WARMUP = 3


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User + system CPU time of a process so far, all its threads (Linux /proc), or
    of one of its threads."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    fields = Path(path).read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def small_bundle(i: int) -> bytes:
    ts = "2026-11-29T08:00:00.000Z"
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": ts, "modified": ts, "name": f"bench {i}", "pattern_type": "stix",
        "pattern": f"[ipv4-addr:value = '203.0.113.{i % 250}']", "valid_from": ts}]}).encode()


async def subscribe_all(urls: list[str], tokens: list[str], out: Path, expect: int,
                        ready: Path) -> None:
    """Hold one raw SSE connection per token; stamp each event's arrival before parsing
    anything else, so the measuring side adds as little delay as possible."""
    arrivals: dict[str, list[float]] = {}
    by_worker: dict[str, dict[str, list[float]]] = {}
    connected = 0
    done = asyncio.Event()
    total = expect * len(tokens)
    got = 0
    marker = b'"share_id":"'

    async def one(url: str, token: str) -> None:
        nonlocal connected, got
        u = urlparse(url)
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        writer.write(f"GET /api/v1/stream HTTP/1.1\r\nHost: {u.netloc}\r\n"
                     f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
                     .encode())
        await writer.drain()
        buf = b""
        first = True
        while True:
            chunk = await reader.read(1 << 20)
            t = time.time()
            if not chunk:
                return
            if first:
                first = False
                connected += 1
                if connected == len(tokens):
                    ready.write_text("ok")
            buf += chunk
            while True:
                i = buf.find(marker)
                if i < 0 or len(buf) < i + len(marker) + 43:
                    break
                sid = buf[i + len(marker): i + len(marker) + 43].decode()
                arrivals.setdefault(sid, []).append(t)
                by_worker.setdefault(url, {}).setdefault(sid, []).append(t)
                buf = buf[i + len(marker) + 43:]
                got += 1
                if got >= total:
                    done.set()
            if len(buf) > 1 << 16:
                buf = buf[-200:]

    tasks = [asyncio.create_task(one(urls[i % len(urls)], tok)) for i, tok in enumerate(tokens)]
    try:
        await asyncio.wait_for(done.wait(), timeout=120)
    finally:
        for task in tasks:
            task.cancel()
        out.write_text(json.dumps(arrivals))
        out.with_suffix(".by_worker.json").write_text(json.dumps(by_worker))


Post = Callable[[bytes], tuple[float, float, httpx.Response]]


def held_post(http: httpx.Client) -> Post:
    """Publish a bundle the node signs with the publisher's keyring, which it holds:
    (request start, request end, response)."""
    def post(bundle: bytes) -> tuple[float, float, httpx.Response]:
        t0 = time.time()
        r = http.post("/api/v1/shares", params={"tlp": "green"}, content=bundle)
        return t0, time.time(), r
    return post


class ClientSigned:
    """Publish as a member that holds its own keys: sign here (timed apart, into
    ``signing_ms``), then post the envelope; the publish starts at the post. The
    audience is the node's answer to one preview, as a client caches it."""

    def __init__(self, http: httpx.Client, keyring: Keyring, signing_ms: list[float]) -> None:
        self.http = http
        self.keyring = keyring
        self.signing_ms = signing_ms
        pv = http.post("/api/v1/preview", json={"tlp": "green"})
        pv.raise_for_status()
        self.preview = pv.json()

    def __call__(self, bundle: bytes) -> tuple[float, float, httpx.Response]:
        pv, kr = self.preview, self.keyring
        h = pv["handling"]
        s0 = time.perf_counter()
        env = build_share(
            plaintext=bundle, originator=kr.member_id,
            audience=Audience(Tlp(pv["audience"]["tlp"]), pv["audience"]["channel"],
                              tuple(r["id"] for r in pv["recipients"])),
            recipients=[r["id"] for r in pv["recipients"]], form=Form(pv["form"]),
            handling=Handling(h["purpose"], bool(h["no_onward"]), tuple(h["codes"])),
            themes=tuple(pv["themes"]), regions=tuple(pv["regions"]), expires=pv["expires"],
            signer_private=kr.sign_private, signer_key_id=kr.sign_key_id, recipient_keys={})
        body = orjson.dumps(envelope_to_json(env))
        self.signing_ms.append((time.perf_counter() - s0) * 1000)
        t0 = time.time()
        r = self.http.post("/api/v1/envelopes", content=body,
                           headers={"Content-Type": "application/json"})
        return t0, time.time(), r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--shares", type=int, default=50)
    ap.add_argument("--gap", type=float, default=0.1, help="seconds between publishes")
    ap.add_argument("--store", help="store URL (default SQLite in a temp dir)")
    ap.add_argument("--bus", default="local://")
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    ap.add_argument("--pin", action="store_true",
                    help="pin the node to CPU 0 and the measuring side to the other CPUs")
    ap.add_argument("--classical", action="store_true",
                    help="members with classical keys (ed25519, x25519) instead of hybrid")
    ap.add_argument("--client-signs", action="store_true",
                    help="the publisher signs each share on its own client and posts the "
                         "envelope (its signing time is reported apart)")
    ap.add_argument("--subscriber-process", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.subscriber_process:
        urls, tokens_file, out, ready = args.subscriber_process
        uvloop.run(subscribe_all(urls.split(","), json.loads(Path(tokens_file).read_text()),
                                 Path(out), args.shares + WARMUP, Path(ready)))
        return
    res = measure(args, hybrid=not args.classical)
    s1, s2 = res["latency_from_publish_start_ms"], res["publish_request_ms"]
    print(f"delivered {res['delivered']}/{res['expected']}; publish->SSE p50 {s1['p50']:.2f} ms "
          f"p99 {s1['p99']:.2f} ms (publish request p50 {s2['p50']:.2f} ms); server CPU "
          f"{res['server_cpu_ms_per_share']:.1f} ms per share (event loop "
          f"{res['server_loop_cpu_ms_per_share']:.1f} ms)")
    if res["client_signing_ms"]:
        c = res["client_signing_ms"]
        print(f"client signing (before each publish, not in the figures above) p50 "
              f"{c['p50']:.2f} ms p99 {c['p99']:.2f} ms")
    for r in res["slowest_shares"]:
        print(f"  slow: share {r['n']}: request {r['request_ms']:.1f} ms, last event "
              f"{r['last_ms']:.1f} ms after the request started")
    name = "delivery" if args.workers == 1 and not args.store else "delivery-scaleout"
    print(f"saved {save(name, res)}")


def measure(args: argparse.Namespace, *, hybrid: bool = True) -> dict[str, Any]:
    """One run: a node whose members have hybrid (or classical) keys, ``args.subscribers``
    live SSE subscribers, ``args.shares`` publishes; the latencies in ms."""
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    client_signs = bool(getattr(args, "client_signs", False))
    signing_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        names = {"publisher": not client_signs} | {
            f"s{i:03d}": False for i in range(args.subscribers)}
        print(f"creating {len(names)} members …", flush=True)
        node = make_node(tmp / "node", names, store=args.store, hybrid=hybrid)
        env = {"VIGIL_BUS": args.bus}
        servers = [ServerProcess(node.data, env=env, port=free_port()).start()
                   for _ in range(args.workers)]
        try:
            if args.pin and (os.cpu_count() or 1) > 1:
                # the node on CPU 0, the measuring side (subscribers, publisher) on the others
                for srv in servers:
                    os.sched_setaffinity(srv.proc.pid, {0})  # type: ignore[union-attr]
                os.sched_setaffinity(0, set(range(1, os.cpu_count() or 2)))
            tokens = [m.token for n, m in node.members.items() if n != "publisher"]
            (tmp / "tokens.json").write_text(json.dumps(tokens))
            out, ready = tmp / "arrivals.json", tmp / "ready"
            sub = subprocess.Popen([sys.executable, "-m", "bench.delivery", "--shares",
                                    str(args.shares), "--subscriber-process",
                                    ",".join(s.url for s in servers), str(tmp / "tokens.json"),
                                    str(out), str(ready)])
            while not ready.exists():
                time.sleep(0.05)
            time.sleep(1.0)
            sent: dict[str, tuple[float, float]] = {}
            pub = node.members["publisher"]
            with httpx.Client(base_url=servers[0].url, timeout=30,
                              headers={"Authorization": f"Bearer {pub.token}"}) as http:
                post = ClientSigned(http, pub.keyring, signing_ms) if client_signs \
                    else held_post(http)
                for i in range(WARMUP):  # first requests load lazily imported code
                    post(small_bundle(1000 + i))[2].raise_for_status()
                    time.sleep(args.gap)
                signing_ms.clear()
                pids = [srv.proc.pid for srv in servers if srv.proc is not None]
                cpu0 = [cpu_seconds(pid) for pid in pids]
                loop0 = [cpu_seconds(pid, pid) for pid in pids]  # the main thread's
                for i in range(args.shares):
                    t0, t1, r = post(small_bundle(i))
                    r.raise_for_status()
                    sent[r.json()["id"]] = (t0, t1)
                    time.sleep(args.gap)
            sub.wait(timeout=120)
            # the servers' CPU over the measured publishes (their background work
            # included: correlation, WAL checkpoints), per share
            cpu_ms = sum(cpu_seconds(pid) - c0
                         for pid, c0 in zip(pids, cpu0, strict=True)) * 1000 / args.shares
            # of which the event loop (the server's main thread): the HTTP side of the
            # publish and the fan-out to every stream
            loop_ms = sum(cpu_seconds(pid, pid) - c0
                          for pid, c0 in zip(pids, loop0, strict=True)) * 1000 / args.shares
            per_worker = json.loads(out.with_suffix(".by_worker.json").read_text())
            arrivals: dict[str, list[float]] = {
                k: v for k, v in json.loads(out.read_text()).items() if k in sent}
        finally:
            for s in servers:
                s.stop()
    from_start = [(t - sent[sid][0]) * 1000 for sid, ts in arrivals.items() for t in ts]
    from_ack = [(t - sent[sid][1]) * 1000 for sid, ts in arrivals.items() for t in ts]
    publish_ms = [(b - a) * 1000 for a, b in sent.values()]
    delivered = sum(len(v) for v in arrivals.values())
    # per share, in publish order: where a slow tail comes from (which shares, and
    # whether in the request or after the 2xx)
    per_share = [{"n": n, "at": t0, "request_ms": (t1 - t0) * 1000,
                  "last_ms": (max(arrivals.get(sid, [t1])) - t0) * 1000,
                  "got": len(arrivals.get(sid, []))}
                 for n, (sid, (t0, t1)) in enumerate(sent.items())]
    worker_ack = {
        f"worker{[s.url for s in servers].index(url) + 1}": summary(
            [(t - sent[sid][1]) * 1000 for sid, ts in got.items() if sid in sent for t in ts])
        for url, got in per_worker.items()}
    return {
        "args": {k: v for k, v in vars(args).items() if k != "subscriber_process"},
        "hybrid": hybrid,
        "client_signs": client_signs,
        # the publisher's own signing (client-signed shares only), before the publish
        # starts: not inside any latency above
        "client_signing_ms": summary(signing_ms) if signing_ms else None,
        "delivered": delivered, "expected": args.shares * args.subscribers,
        "latency_from_publish_start_ms": summary(from_start),
        "latency_from_ack_ms": summary(from_ack),
        "publish_request_ms": summary(publish_ms),
        "server_cpu_ms_per_share": cpu_ms,
        "server_loop_cpu_ms_per_share": loop_ms,
        "latency_from_ack_ms_by_worker": worker_ack,
        "per_share": per_share,
        "slowest_shares": sorted(per_share, key=lambda r: -r["last_ms"])[:3],
    }


if __name__ == "__main__":
    main()
