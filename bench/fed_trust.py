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

Part 2, the soak (:mod:`bench.fed_soak`): ``--nodes`` nodes, each its own ``vigil serve``
process on loopback, peered, each witnessing the others at the product's 1 s cadence.
``m0@athens`` publishes ``--rate`` shares/s for ``--seconds`` s to ``m1@berlin``; every
``--down`` s a random third node is cut off for ``--down`` / 2 s (``--cut freeze``:
SIGSTOP, a silent partition; ``restart``: stopped and started again). It prints shares
lost, the time from the last heal until every link's cursors are equal, and each node's
RSS at start, at the end of ``--warmup``, peak and end (growth = end over warm-up).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import save, summary
from bench.fed_soak import soak
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


def node_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(str(kv).partition("=")[::2] for kv in args.node_env)
    if args.sqlite_cache_mib is not None:
        env["VIGIL_SQLITE_CACHE_MIB"] = str(args.sqlite_cache_mib)
    return env


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--submissions", type=int, default=2000)
    ap.add_argument("--lookups", type=int, default=1000)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--down", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="seconds of traffic before the RSS growth baseline")
    ap.add_argument("--inflight", type=int, default=16, help="publishes open at once")
    ap.add_argument("--sample", type=int, default=10,
                    help="watch every N-th share for its witnessed lag")
    ap.add_argument("--cut", choices=("freeze", "restart"), default="freeze")
    ap.add_argument("--sqlite-cache-mib", type=int, default=None,
                    help="each node's sqlite_cache_mib (default: the product's)")
    ap.add_argument("--node-env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment variable for every node process")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        result: dict[str, Any] = {"witness": witness_cost(args.submissions, tmp),
                                  "lookup": lookup_cost(args.lookups, tmp)}
        print("witness add-checkpoint:", result["witness"])
        print("verify_lookup:", result["lookup"])
        if args.seconds > 0:
            result["soak"] = s = asyncio.run(soak(
                args.nodes, args.seconds, args.rate, args.down, tmp / "soak",
                warmup=args.warmup, inflight=args.inflight, sample=args.sample,
                cut=args.cut, env=node_env(args)))
            print("soak:", s)
            print(f"published {s['published']} ({s['published_per_s']}/s), "
                  f"lost {s['lost']}, duplicated {s['duplicated']}, "
                  f"not acknowledged {s['not_acknowledged']}, "
                  f"cursors equal {s['cursors_equal_after_heal_s']} s after the last heal, "
                  f"witnessed lag ms {s['witnessed_lag_ms']}")
            for name, row in s["rss_mib"].items():
                print(f"RSS {name}: {row}")
            for name, row in s["memory_at_end"].items():
                print(f"memory at end {name}: {row}")
    print(save("fed_trust", result))


if __name__ == "__main__":
    main()
