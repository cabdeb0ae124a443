"""Federation on the network-namespace bed: cross-node publish → remote SSE latency, the
same with 50 ms one-way delay and 1 % dropped connections, backlog drain, and the memory of
a node holding a large outbox. Needs root and `ip` (vigil.testbed).

    python -m bench.federation                       # 300 shares, backlog 100,000
    python -m bench.federation --shares 100 --backlog 5000      # a short run
    python -m bench.federation --shares 0 --backlog 0 --kill-rounds 50    # kill -9 only

Three nodes n1, n2, n3, each ``vigil serve`` (SQLite, TLS, federating) in its own network
namespace; nodes reach each other only through the asyncio proxy in the router namespace.
n1 hosts the publisher ``a`` and a local member ``l``; n2 hosts ``b``, n3 hosts ``c``.
Every member's SSE stream is held by this process (in a client namespace, direct to its
node). Shares go from ``a@n1`` to ``l`` (the baseline: local publish → SSE on one node,
measured in the same run), ``b@n2`` and ``c@n3`` in turn, one at a time at ``--rate``;
latency is from the start of the publish request to the event's arrival on the stream.

Backlog: n2 is cut off silently (blackhole rule) while n1 queues ``--backlog`` shares for
``b@n2``; to fill that fast the n1 server is stopped and the shares are published
in-process on its data directory (with SQLite ``synchronous=OFF`` for the fill only; the
node itself runs with FULL). n1 is started again, its RSS read with the full outbox; then
n2 is let back and the drain is timed on b's stream, while n1 → n3 traffic at ``--rate``
measures what the drain does to other links.

Kill -9 (``--kill-rounds N``, after the other phases): every member publishes to one to
three random members while a random node is killed with SIGKILL and started again, N
times (vigil.testbed.crashes); then the set check: every acknowledged share reached every
entitled member's stream exactly once, and nobody else.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import save, summary
from vigil.testbed.crashes import kill_run
from vigil.testbed.federation import Federation, Streams, as_seen_from, bundle
from vigil.testbed.netns import unavailable
from vigil.testbed.nodes import Testbed

TARGETS = ("l@n1", "b@n2", "c@n3")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def paced(fed: Federation, n: int, rate: float, targets: tuple[str, ...],
                label: str, sent: dict[str, tuple[float, str]] | None = None
                ) -> dict[str, tuple[float, str]]:
    """Publish n shares from a@n1 at `rate`/s, cycling through `targets`; share id →
    (publish start, target), filled in as it goes. A failed publish is not counted."""
    sent = {} if sent is None else sent
    async with httpx.AsyncClient(verify=False, timeout=30) as c:
        start = time.monotonic()
        for k in range(n):
            target = targets[k % len(targets)]
            delay = start + k / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            t0 = time.time()
            try:
                ans = await fed.publish(c, "a@n1", [f"member:{target}"], f"{label}{k}")
            except (httpx.TransportError, httpx.HTTPStatusError):
                continue
            sent[ans["id"]] = (t0, target)
    return sent


def latencies(streams: Streams, sent: dict[str, tuple[float, str]], timeout: float
              ) -> dict[str, Any]:
    def arrived(s: Streams) -> bool:
        return all(sid in {e.share_id for e in s.events.get(t, [])} for sid, (_, t) in
                   sent.items())

    streams.wait(arrived, timeout)
    at: dict[tuple[str, str], float] = {}
    for member in TARGETS:
        for e in streams.events.get(member, []):
            at.setdefault((member, e.share_id), e.at)
    local: list[float] = []
    remote: list[float] = []
    lost = 0
    for sid, (t0, target) in sent.items():
        t = at.get((target, sid))
        if t is None:
            lost += 1
            continue
        (local if target == "l@n1" else remote).append((t - t0) * 1000)
    return {"local_ms": summary(local) if local else None,
            "remote_ms": summary(remote) if remote else None, "lost": lost,
            "acknowledged": len(sent)}


def fill_backlog(fed: Federation, n: int) -> float:
    """n shares a@n1 → b@n2 published in-process on n1's (stopped) data directory."""
    from vigil.features import open_exchange
    from vigil.model import Actor, Tlp

    node = fed.nodes[1]
    settings = node.test.settings.with_overrides(fed_name="n1",
                                                 public_url=node.bed.peer_url)
    ex = open_exchange(settings)
    try:
        ex.store._writer.execute("PRAGMA synchronous=OFF")  # type: ignore[attr-defined]
        a = node.test.members["a"].id
        req = ex.make_request(a, tlp=Tlp.AMBER, to=[as_seen_from(1, "member:b@n2")])
        actor = Actor(member=a)
        t = time.perf_counter()
        for k in range(n):
            ex.publish_bundle(actor, bundle(f"backlog{k}"), req)
            if k and k % 10000 == 0:
                print(f"  … {k} queued ({k / (time.perf_counter() - t):.0f}/s)", flush=True)
        return time.perf_counter() - t
    finally:
        ex.store.close()


def backlog_of(fed: Federation, i: int, peer: str) -> int:
    for p in fed.status(i)["peers"]:
        if p["peer"] == peer:
            return int(p["sent"]["backlog"])
    return -1


def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"args": vars(args)}
    tb = Testbed(3, work, seed=3)
    try:
        fed = Federation(tb, work, {1: ["a", "l"], 2: ["b"], 3: ["c"]},
                         env={"VIGIL_CORRELATION_PROCESSES": "0"})
        fed.setup()
        fed.wait_directories()
        streams = Streams(fed).open(fed.addresses())  # TARGETS and the publisher
        fed.streams = streams
        run = tb.client.run
        run(paced(fed, 6, 10, TARGETS, "warm"))  # lazily imported code, connections

        if args.shares:
            sent = run(paced(fed, args.shares, args.rate, TARGETS, "f1-"), timeout=3600)
            out["plain"] = latencies(streams, sent, 60)
            print("plain", out["plain"], flush=True)

            links = [(a, b) for a in (1, 2, 3) for b in (1, 2, 3) if a != b]
            tb.proxy.delay(links, 50)
            tb.proxy.drop(0.01)
            sent = run(paced(fed, args.shares, args.rate, TARGETS, "f1b-"), timeout=3600)
            out["delay50_drop1"] = latencies(streams, sent, 120)
            out["delay50_drop1"]["proxy"] = tb.proxy.stats()["stats"]
            tb.proxy.clear()
            print("delay 50 ms, 1 % dropped", out["delay50_drop1"], flush=True)

        if args.backlog:
            out["backlog"] = drain(fed, streams, args)
            print("backlog", out["backlog"], flush=True)
        if args.kill_rounds:
            out["kill"] = kill_run(fed, args.kill_rounds, seed=905,
                                   timeout=args.drain_timeout)
            print("kill -9", out["kill"], flush=True)
        streams.close()
    finally:
        tb.close()
    return out


def drain(fed: Federation, streams: Streams, args: argparse.Namespace) -> dict[str, Any]:
    tb = fed.tb
    n1 = fed.nodes[1].bed
    res: dict[str, Any] = {"shares": args.backlog}
    res["rss_before_kib"] = rss_kib(n1.proc.pid) if n1.proc else 0
    tb.bed.isolate(2)
    n1.stop()
    print(f"filling a backlog of {args.backlog} for n2 …", flush=True)
    res["fill_s"] = round(fill_backlog(fed, args.backlog), 1)
    n1.start()
    time.sleep(3)
    res["outbox_backlog_seen"] = backlog_of(fed, 1, "n2")
    res["rss_full_outbox_kib"] = rss_kib(n1.proc.pid) if n1.proc else 0
    before = {e.share_id for e in streams.events.get("b@n2", [])}
    # other links while the backlog drains
    during: dict[str, tuple[float, str]] = {}
    other = tb.client.submit(paced(fed, 10**6, args.rate, ("c@n3",), "during-", during))
    t_heal = time.time()
    tb.bed.heal()
    peak = int(res["rss_full_outbox_kib"])

    def drained(s: Streams) -> bool:
        nonlocal peak
        if n1.proc:
            peak = max(peak, rss_kib(n1.proc.pid))
        got = {e.share_id for e in s.events.get("b@n2", [])} - before
        return len(got) >= int(args.backlog)

    ok = streams.wait(drained, args.drain_timeout)
    t_end = time.time()
    other.cancel()
    new = [e for e in streams.events.get("b@n2", []) if e.share_id not in before]
    ids = [e.share_id for e in new]
    res["drained"] = ok
    res["received"] = len(set(ids))
    res["duplicates"] = len(ids) - len(set(ids))
    if new:
        first, last = min(e.at for e in new), max(e.at for e in new)
        res["first_after_heal_s"] = round(first - t_heal, 2)
        res["drain_s"] = round(last - t_heal, 2)
        res["shares_per_s"] = round(len(set(ids)) / max(last - t_heal, 1e-9))
        res["shares_per_s_from_first"] = round(len(set(ids)) / max(last - first, 1e-9))
    res["rss_peak_kib"] = peak
    print("drained", res, flush=True)
    res["other_link_n1_n3"] = latencies(streams, {k: v for k, v in during.items()
                                                   if v[0] <= t_end}, 60)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shares", type=int, default=300,
                    help="shares per latency phase (0: skip them)")
    ap.add_argument("--rate", type=float, default=20, help="publishes per second")
    ap.add_argument("--backlog", type=int, default=100_000, help="0: skip the drain")
    ap.add_argument("--drain-timeout", type=float, default=1800)
    ap.add_argument("--kill-rounds", type=int, default=0,
                    help="kill -9 a random node this many times during publishes, then "
                         "check every acknowledged share arrived once (0: skip)")
    args = ap.parse_args()
    reason = unavailable()
    if reason:
        raise SystemExit(f"the federation bench needs network namespaces: {reason}")
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "test-passphrase")
    with tempfile.TemporaryDirectory(prefix="vigil-fedbench-") as tmp:
        res = measure(args, Path(tmp))
    print(f"saved {save('federation', res)}")


if __name__ == "__main__":
    main()
