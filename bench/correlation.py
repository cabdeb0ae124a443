"""Correlation: the observable index, search through the API, re-correlation, and the
publish path with correlation on and off, on values derived from real IOC lists.

    python -m bench.correlation                          # 1,000,000 observables
    python -m bench.correlation --observables 100000     # a quicker run

1. In process: ``ObservableIndex`` with N observables (IPv4 addresses and /24 ranges,
   URLs, domains, SHA-256 and MD5 hashes from the abuse.ch lists, extended with derived
   values of the same kinds); build time, then the latency of ``match`` for hits,
   misses and addresses inside stored ranges.
2. The store: a SQLite node holding the same N observables in plain shares of 1,000
   indicators, stored through the share transaction with correlation on (the fill).
3. Through the API: a ``vigil serve`` process; ``GET /api/v1/search?q=`` over one
   keep-alive connection (raw socket: the time is the server's and the network's).
4. Re-correlation: ``Correlator.rebuild`` of the whole store.
5. Publish throughput: community TLP:GREEN bundles through ``publish_bundle`` (parse,
   validate, sign, store), in blocks with correlation on and off, on the filled node; a
   given share of each bundle's values (--overlap) is already stored. Correlation runs
   after the publish, in a thread of the process, large passes in the node's
   correlation worker process (``--processes 0``: none); an "on" block is timed until
   the pass has caught up and this process's index holds the block's shares.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import random
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from bench.common import real_iocs, save, summary
from vigil.analysis.correlate import Correlator, correlator
from vigil.analysis.index import ObservableIndex
from vigil.analysis.observables import Observable, normalise
from vigil.interop.iocs import Ioc
from vigil.model import Actor, Audience, Form, Handling, Tlp
from vigil.node.exchange import Exchange
from vigil.protocol.envelope import build_share
from vigil.testing import ServerProcess, TestNode, make_node

PER_SHARE = 1000


def _public_ip(seed: bytes) -> str:
    h = hashlib.blake2b(seed, digest_size=4).digest()
    first = 11 + h[0] % 212  # 11..222, skipping the private and special blocks below
    if first in (100, 127, 169, 172, 192, 198, 203):
        first += 1
    return f"{first}.{h[1]}.{h[2]}.{h[3]}"


def derived(ioc: Ioc, lap: int) -> Observable | None:
    """The observable of a real IOC (lap 0), or a value derived from it (lap > 0) of a
    kind drawn from a fixed mix: 35 % IPv4 (one in fifty a /24 range), 25 % URL,
    15 % domain, 20 % SHA-256, 5 % MD5."""
    if lap == 0:
        kind = {"ipv4-addr": "ip", "ipv6-addr": "ip", "url": "url",
                "domain-name": "domain"}.get(ioc.kind)
        if kind is None:
            kind = "sha256" if len(ioc.value) == 64 else "md5"
        return normalise(kind, ioc.value)
    seed = f"{ioc.value}/{lap}".encode()
    x = hashlib.blake2b(seed, digest_size=2).digest()[0] % 100
    if x < 35:
        value = _public_ip(seed)
        if x == 0:
            value = value.rsplit(".", 1)[0] + ".0/24"
        return normalise("ip", value)
    if x < 60:
        base = ioc.value if ioc.kind == "url" else f"http://{_public_ip(seed)}/{ioc.value[:12]}"
        return normalise("url", f"{base}{'&' if '?' in base else '?'}v={lap}")
    if x < 75:
        return normalise("domain", f"v{lap}-{hashlib.md5(seed).hexdigest()[:10]}.example.net")
    if x < 95:
        return normalise("sha256", hashlib.sha256(seed).hexdigest())
    return normalise("md5", hashlib.md5(seed).hexdigest())


def observables(n: int) -> list[Observable]:
    iocs = real_iocs()
    out: list[Observable] = []
    seen: set[Observable] = set()
    lap = 0
    while len(out) < n:
        for ioc in iocs:
            o = derived(ioc, lap)
            if o is not None and o not in seen:
                seen.add(o)
                out.append(o)
                if len(out) == n:
                    break
        lap += 1
    return out


def pattern(o: Observable) -> str:
    v = o.value.replace("\\", "\\\\").replace("'", "\\'")
    if o.kind == "ip":
        return f"[ipv4-addr:value = '{v}']"
    if o.kind == "domain":
        return f"[domain-name:value = '{v}']"
    if o.kind == "url":
        return f"[url:value = '{v}']"
    return f"[file:hashes.'{'SHA-256' if o.kind == 'sha256' else 'MD5'}' = '{v}']"


def bundle(obs: list[Observable], stamp: str = "2026-11-29T08:00:00.000Z") -> bytes:
    objs = [{"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
             "created": stamp, "modified": stamp, "pattern": pattern(o),
             "pattern_type": "stix", "valid_from": stamp} for o in obs]
    return orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objs})


def probes(obs: list[Observable], rnd: random.Random, n: int) -> list[Observable]:
    """A mix: 60 % stored values, 20 % addresses inside stored ranges, 20 % misses."""
    ranges = [o for o in obs if o.kind == "ip" and "/" in o.value]
    out = []
    for i in range(n):
        x = i % 10
        if x < 6:
            out.append(rnd.choice(obs))
        elif x < 8 and ranges:
            base = rnd.choice(ranges).value.split("/")[0].rsplit(".", 1)[0]
            out.append(Observable("ip", f"{base}.{rnd.randint(1, 254)}"))
        else:
            miss = f"{rnd.getrandbits(256):064x}"
            out.append(Observable("sha256", miss) if i % 2 else
                       Observable("domain", f"miss-{miss[:16]}.example.net"))
    return out


def in_process(obs: list[Observable], lookups: int) -> dict[str, Any]:
    ix: ObservableIndex[str] = ObservableIndex()
    t0 = time.perf_counter()
    for k, o in enumerate(obs):
        ix.add(o, f"share--{k // PER_SHARE:08d}")
    build = time.perf_counter() - t0
    rnd = random.Random(7)
    qs = probes(obs, rnd, lookups)
    times = []
    hits = 0
    clock = time.perf_counter_ns
    for q in qs:
        t = clock()
        found = ix.match(q)
        times.append((clock() - t) / 1000)
        hits += bool(found)
    return {"observables": len(ix), "build_s": build, "lookups": len(qs), "hits": hits,
            "lookup_us": summary(times)}


def fill(ex: Exchange, node: TestNode, obs: list[Observable],
         progress: Callable[[int], None]) -> float:
    """Store the observables as plain community shares of PER_SHARE indicators, each
    signed by the originator (correlation on), then wait for correlation to catch up."""
    origin = node.members["origin"]
    d = ex.directory()
    recipients = tuple(sorted(m for m in d.members if m != origin.id))
    t0 = time.perf_counter()
    for k in range(0, len(obs), PER_SHARE):
        env = build_share(
            plaintext=bundle(obs[k:k + PER_SHARE]), originator=origin.id,
            audience=Audience(Tlp.GREEN, None, recipients), recipients=recipients,
            form=Form.PLAIN, handling=Handling(), themes=(), regions=(), expires=None,
            signer_private=origin.keyring.sign_private,
            signer_key_id=origin.keyring.sign_key_id, recipient_keys={})
        ex._store(env, recipients)
        progress(k + PER_SHARE)
    correlator(ex).process()
    return time.perf_counter() - t0


def _http_get(sock: socket.socket, path: str, token: str) -> bytes:
    req = (f"GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n")
    sock.sendall(req.encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += sock.recv(65536)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"{path}: {head.decode(errors='replace')} {body!r}")
    return body


def through_api(node: TestNode, obs: list[Observable], lookups: int) -> dict[str, Any]:
    token = node.members["reader"].token
    rnd = random.Random(11)
    qs = probes(obs, rnd, lookups)
    with ServerProcess(node.data) as server:
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        _http_get(sock, "/api/v1/search?q=1.2.3.4", token)  # loads the index
        warm = time.perf_counter() - t0
        for q in qs[:200]:
            _http_get(sock, f"/api/v1/search?q={quote(q.key)}&limit=10", token)
        times = []
        results = 0
        for q in qs:
            path = f"/api/v1/search?q={quote(q.key)}&limit=10"
            t = time.perf_counter_ns()
            body = _http_get(sock, path, token)
            times.append((time.perf_counter_ns() - t) / 1000)
            results += orjson.loads(body)["count"] > 0
        sock.close()
    return {"first_search_s": warm, "lookups": len(qs), "with_results": results,
            "lookup_us": summary(times)}


def publish_on_off(ex: Exchange, node: TestNode, obs: list[Observable], rounds: int,
                   size: int, overlap: float, block: int = 5) -> dict[str, Any]:
    """Blocks of ``block`` bundles with correlation on, then off, ``rounds`` times. An
    "on" block ends when the correlation thread has caught up with its shares (that
    wait is timed too), so the deferred work is counted where it belongs."""
    c = correlator(ex)
    origin = node.members["origin"].id
    rnd = random.Random(3)
    fresh = observables(len(obs) + rounds * 2 * block * size)[len(obs):]
    seconds = {"on": 0.0, "off": 0.0}
    calls: dict[str, list[float]] = {"on": [], "off": []}
    drains: list[float] = []
    counts = {"on": 0, "off": 0}
    req = ex.make_request(origin, tlp=Tlp.GREEN)
    k = 0
    c.process()
    for _ in range(rounds):
        for mode in ("on", "off"):
            raws = []
            for _ in range(block):
                seen = round(size * overlap)
                values = rnd.sample(obs, seen) + fresh[k * size:k * size + size - seen]
                raws.append(bundle(values))
                k += 1
            if mode == "off":  # no correlation at all: no extraction, no rows, no pass
                ex.published_hooks.remove(c.after_publish)
            t0 = time.perf_counter()
            for raw in raws:
                t = time.perf_counter()
                ex.publish_bundle(Actor(origin, None), raw, req)
                calls[mode].append(time.perf_counter() - t)
            if mode == "on":
                t = time.perf_counter()
                c.process()  # wait for (or do) what the thread has not done yet
                drains.append(time.perf_counter() - t)
            seconds[mode] += time.perf_counter() - t0
            if mode == "off":
                ex.published_hooks.append(c.after_publish)
                c.process()  # move the mark past the "off" shares, untimed
            counts[mode] += block * size
    out: dict[str, Any] = {}
    for mode in ("on", "off"):
        out[mode] = {"objects_per_s": counts[mode] / seconds[mode],
                     "publish_call_ms": {k: v * 1000 if k != "n" else v
                                         for k, v in summary(calls[mode]).items()}}
    out["on"]["drain_after_block_ms"] = {k: v * 1000 if k != "n" else v
                                         for k, v in summary(drains).items()}
    out["ratio_on_to_off"] = out["on"]["objects_per_s"] / out["off"]["objects_per_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--observables", type=int, default=1_000_000)
    ap.add_argument("--lookups", type=int, default=100_000, help="in-process lookups")
    ap.add_argument("--api-lookups", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=8,
                    help="publish rounds (each: a block of 5 bundles on, then 5 off)")
    ap.add_argument("--size", type=int, default=1000, help="indicators per published bundle")
    ap.add_argument("--overlap", type=float, nargs="+", default=[0.2, 0.5],
                    help="share of each published bundle's values already stored")
    ap.add_argument("--processes", type=int, default=None,
                    help="correlation worker processes (the node's setting "
                         "correlation_processes; default: the node's default)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    if args.processes is not None:
        os.environ["VIGIL_CORRELATION_PROCESSES"] = str(args.processes)
    say: Callable[..., None] = (lambda *a, **k: None) if args.json else print

    obs = observables(args.observables)
    # The harness's own values (a million named tuples, which Python's cycle collector
    # tracks) must not be scanned by the collector in the timed parts: the node's index
    # holds no tracked objects per value, and the harness is not the node.
    gc.collect()
    gc.freeze()
    kinds: dict[str, int] = {}
    for o in obs:
        kinds[o.kind] = kinds.get(o.kind, 0) + 1
    say(f"{len(obs):,} observables: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())))
    result: dict[str, Any] = {"args": vars(args), "kinds": kinds}

    ip = in_process(obs, args.lookups)
    result["in_process"] = ip
    say(f"in process: built in {ip['build_s']:.1f} s; lookup p50 {ip['lookup_us']['p50']:.1f} us"
        f" p99 {ip['lookup_us']['p99']:.1f} us ({ip['hits']:,}/{ip['lookups']:,} hit)")

    with tempfile.TemporaryDirectory() as tmp:
        node = make_node(Path(tmp) / "node", {"origin": True, "reader": True})
        ex = node.exchange()
        t = fill(ex, node, obs, lambda k: say(f"\rfill {min(k, len(obs)):,}", end="",
                                              flush=True))
        say(f"\rfilled {len(obs):,} observables in {t:.1f} s")
        result["fill_s"] = t

        api = through_api(node, obs, args.api_lookups)
        result["api"] = api
        say(f"through the API: first search (index load) {api['first_search_s']:.1f} s; "
            f"lookup p50 {api['lookup_us']['p50']:.0f} us p99 {api['lookup_us']['p99']:.0f} us")

        fresh = Correlator(ex)
        t0 = time.perf_counter()
        stats = fresh.rebuild(progress=lambda d, n, o: say(f"\rrebuild {d}/{n} shares, "
                                                           f"{o:,} observables", end="",
                                                           flush=True))
        rebuild_s = time.perf_counter() - t0
        say(f"\rre-correlation of {stats['observables']:,} observables in {rebuild_s:.1f} s"
            f" ({stats['correlation_rows']:,} correlation rows)")
        result["rebuild"] = {"seconds": rebuild_s, **stats}

        result["publish"] = {}
        for overlap in args.overlap:
            pub = publish_on_off(ex, node, obs, args.rounds, args.size, overlap)
            result["publish"][str(overlap)] = pub
            say(f"publish, {overlap:.0%} of values seen before: correlation on "
                f"{pub['on']['objects_per_s']:,.0f} objects/s, off "
                f"{pub['off']['objects_per_s']:,.0f} objects/s; ratio "
                f"{pub['ratio_on_to_off']:.2f}")
        ex.store.close()
    path = save("correlation", result)
    if args.json:
        print(orjson.dumps(result).decode())
    else:
        print(f"saved {path}")


if __name__ == "__main__":
    main()
