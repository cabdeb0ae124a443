"""Federation trust: the witness endpoint's cost, lookup verification, and a short soak
of live nodes (witnessing lag, losses, memory, cursors after the last heal).

    python -m bench.fed_trust                                   # defaults below
    python -m bench.fed_trust --submissions 2000 --nodes 3 --seconds 60 --rate 5 --down 10

Part 1, one thread, SQLite (synchronous=FULL) in a temporary directory: a log grows by
one entry per round and its checkpoint is submitted to a witness through the C2SP
add-checkpoint code path (consistency proof built, parsed, verified, the witness's head
compared and stored in one transaction, a cosignature made and checked by the log).
Then verify_lookup of a member with 3 entries against a checkpoint carrying 3
cosignatures of 5 witnesses.

Part 2, live: ``--nodes`` nodes on loopback ports (uvicorn in threads of this process,
as the tests run them), peered, each witnessing the others at a 1 s cadence. One member
publishes ``--rate`` shares/s for ``--seconds`` s to a member of another node; every
``--down`` s a random third node is stopped for ``--down`` / 2 s and started again (a
node partitioned away from all). Figures: shares lost (published and acknowledged, not
in the recipient's store at the end), publish → witnessed at the recipient (its node
says k witnesses of other nodes hold the entry), the process's RSS growth from the
first to the last minute, and the time from the last restart until every link's
cursors are equal.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import save, summary
from vigil.crypto.keys import enc_public_raw, generate_enc_key, generate_sign_key
from vigil.directory.answers import answer_lookup
from vigil.directory.entries import next_entry, sign_entry
from vigil.directory.log import DirectoryLog
from vigil.directory.lookup import verify_lookup
from vigil.log.tree import StoredLog
from vigil.storage import open_store
from vigil.witness.alarms import Alarms
from vigil.witness.collector import Collector, WitnessPeer
from vigil.witness.service import Witness, static_logs


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def witness_cost(submissions: int, tmp: Path) -> dict[str, Any]:
    node_id = f"node--{uuid.uuid4()}"
    log_store = open_store(f"sqlite:///{tmp / 'log.db'}")
    w_store = open_store(f"sqlite:///{tmp / 'witness.db'}")
    key = Ed25519PrivateKey.generate()
    log = StoredLog(log_store, node_id, key)
    witness = Witness(w_store, "vigil.example/witness/w", Ed25519PrivateKey.generate(),
                      static_logs({log.origin: log.public_raw}), Alarms(w_store))

    def submit(body: bytes) -> tuple[int, str, bytes]:
        a = witness.add_checkpoint(body)
        return a.status, a.content_type, a.body
    peer = WitnessPeer(witness.name, witness.public_raw, submit)
    col = Collector(log_store, [log])
    times = []
    for i in range(submissions):
        log_store.write(lambda sql, i=i: log.append(sql, {"v": 1, "kind": "bench", "n": i}))
        t = time.perf_counter()
        assert col.submit(log, peer)
        times.append((time.perf_counter() - t) * 1000)
    total = sum(times) / 1000
    log_store.close()
    w_store.close()
    return {"submissions": submissions, "per_s": round(submissions / total, 1),
            "ms": summary(times)}


def lookup_cost(rounds: int, tmp: Path) -> dict[str, Any]:
    home_id = f"node--{uuid.uuid4()}"
    store = open_store(f"sqlite:///{tmp / 'dir.db'}")
    key = Ed25519PrivateKey.generate()
    d = DirectoryLog(store, home_id, key)
    member = f"identity--{uuid.uuid4()}"
    sk = generate_sign_key(False)
    d.append(sign_entry(next_entry(None, "register", member, home_id, sign_key=sk,
                                   enc_key=enc_public_raw(generate_enc_key(False))), sk, key))
    for _ in range(2):
        new = generate_sign_key(False)
        d.append(sign_entry(next_entry(d.keys(member), "rotate", member, home_id,
                                       sign_key=new), sk, key))
        sk = new
    peers = []
    witnesses = {}
    for i in range(5):
        ws = open_store(f"sqlite:///{tmp / f'w{i}.db'}")
        w = Witness(ws, f"vigil.example/witness/node--{uuid.uuid4()}",
                    Ed25519PrivateKey.generate(), static_logs({d.origin: d.public_raw}),
                    Alarms(ws))
        witnesses[w.name] = w.public_raw

        def submit(body: bytes, w: Witness = w) -> tuple[int, str, bytes]:
            a = w.add_checkpoint(body)
            return a.status, a.content_type, a.body
        peers.append(WitnessPeer(w.name, w.public_raw, submit))
    col = Collector(store, [d])
    col.round(peers[:3])
    answer = answer_lookup(d, col, member, 3)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        verify_lookup(answer, home_id, d.public_raw, witnesses, 3)
        times.append((time.perf_counter() - t) * 1000)
    return {"entries": 3, "cosignatures": 3, "witnesses_known": 5, "ms": summary(times)}


async def soak(nodes: int, seconds: float, rate: float, down: float, tmp: Path
               ) -> dict[str, Any]:
    import httpx
    from tests.federation.nodes import FedNode, knows, make_fed_node, peer_all, wait_for

    from vigil.client import Client
    from vigil.testing.stix import canary_bundle as bundle_with

    names = ["athens", "berlin", "cairo", "dublin", "essen"][:nodes]
    fed: list[FedNode] = [make_fed_node(tmp, n, {f"m{i}": True}) for i, n in enumerate(names)]
    for n in fed:  # the product's cadence, not the tests' faster heartbeats
        n.server.settings = n.server.settings.with_overrides(fed_heartbeat=1.0)
        n.server.start()
    try:
        peer_all(fed)
        src, dst = fed[0], fed[1]
        await asyncio.to_thread(wait_for, knows(src, "m1@berlin"), 60.0)
        client = Client(src.url, src.node.members["m0"].token)
        reader = httpx.Client(base_url=dst.url, headers=dst.auth("m1"), timeout=10)
        published: dict[str, float] = {}
        witnessed_at: dict[str, float] = {}
        stop = threading.Event()
        rss: list[tuple[float, float]] = []
        last_restart = [0.0]

        def partitions() -> None:
            others = fed[2:]
            while others and not stop.wait(down):
                victim = random.choice(others)
                victim.server.stop()
                if stop.wait(down / 2):
                    victim.server.start()
                    break
                victim.server.start()
                last_restart[0] = time.monotonic()

        def watch() -> None:
            while not stop.is_set() or len(witnessed_at) < len(published):
                for sid, t0 in list(published.items()):
                    if sid in witnessed_at:
                        continue
                    r = reader.get(f"/api/v1/federation/witnessed/{sid}")
                    if r.status_code == 200 and r.json()["witnessed"]:
                        witnessed_at[sid] = time.monotonic() - t0
                if stop.is_set() and time.monotonic() - last_restart[0] > 120:
                    break
                time.sleep(0.05)

        part = threading.Thread(target=partitions, daemon=True)
        watcher = threading.Thread(target=watch, daemon=True)
        part.start()
        watcher.start()
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < seconds:
            res = await asyncio.to_thread(client.publish, bundle_with(f"soak {i}"),
                                          tlp="amber", to=["member:m1@berlin"])
            published[res["id"]] = time.monotonic()
            i += 1
            if not rss or time.monotonic() - rss[-1][0] > 5:
                rss.append((time.monotonic(), rss_mib()))
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        stop.set()
        part.join(60)
        healed = max(last_restart[0], time.monotonic())

        def cursors_equal() -> bool:
            for n in fed:
                for p in n.status()["peers"]:
                    if p["sent"]["acked"] != p["sent"]["head"]:
                        return False
            return True
        await asyncio.to_thread(wait_for, cursors_equal, 300.0, 0.1)
        converged = time.monotonic() - healed
        watcher.join(180)

        def stored(sid: str) -> bool:
            r = reader.get(f"/api/v1/shares/{sid}")
            return r.status_code == 200
        lost = [sid for sid in published if not stored(sid)]
        first = [m for t, m in rss if t - start <= 60] or [rss[0][1]]
        last = [m for t, m in rss if t - start >= seconds - 60] or [rss[-1][1]]
        lag = [v * 1000 for v in witnessed_at.values()]
        return {"nodes": nodes, "seconds": seconds, "rate": rate, "published": len(published),
                "lost": len(lost), "witnessed": len(witnessed_at),
                "witnessed_lag_ms": summary(lag) if lag else None,
                "rss_mib_first_minute": round(max(first), 1),
                "rss_mib_last_minute": round(max(last), 1),
                "rss_growth_pct": round(100 * (max(last) - max(first)) / max(first), 1),
                "cursors_equal_after_heal_s": round(converged, 2)}
    finally:
        for n in fed:
            n.server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--submissions", type=int, default=2000)
    ap.add_argument("--lookups", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--down", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        result: dict[str, Any] = {"witness": witness_cost(args.submissions, tmp),
                                  "lookup": lookup_cost(args.lookups, tmp)}
        print("witness add-checkpoint:", result["witness"])
        print("verify_lookup:", result["lookup"])
        if args.seconds > 0:
            result["soak"] = asyncio.run(soak(args.nodes, args.seconds, args.rate,
                                              args.down, tmp / "soak"))
            print("soak:", result["soak"])
    print(save("fed_trust", result))


if __name__ == "__main__":
    main()
