"""The node's stored log: append 1,000,000 entries, then time proofs read from the store.

    python -m bench.log_store                          # SQLite, 1,000,000 entries
    python -m bench.log_store --store postgresql://127.0.0.1/vigil_bench --entries 200000

Entries are appended with ``StoredLog.append`` (what the node runs inside each
share's transaction), 10,000 per transaction to build the log quickly. Then each
proof is what ``GET /api/v1/log/inclusion`` and ``/consistency`` run: one read of at
most 2·log2(n) stored nodes in one query, folded into the proof; every tenth is
verified against the root. One thread.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import save, summary
from vigil.log.entries import channel_entry, entry_bytes
from vigil.log.merkle import leaf_hash, verify_consistency, verify_inclusion
from vigil.log.tree import StoredLog
from vigil.storage import open_store
from vigil.storage.base import Sql


def entry(i: int) -> dict[str, Any]:
    return channel_entry(f"channel--{i % 977}", f"identity--{i}", "join", "identity--bench",
                         "2026-11-29T08:00:00.000Z")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--proofs", type=int, default=2_000)
    ap.add_argument("--store", help="store URL (default SQLite in a temp dir)")
    args = ap.parse_args()
    rng = random.Random(9162)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.store or f"sqlite:///{Path(tmp) / 'log.db'}")
        log = StoredLog(store, f"node--{uuid.uuid4()}", Ed25519PrivateKey.generate())
        n = args.entries
        t0 = time.perf_counter()
        done = 0
        while done < n:
            upto = min(n, done + 10_000)

            def batch(sql: Sql, lo: int = done, hi: int = upto) -> None:
                for i in range(lo, hi):
                    log.append(sql, entry(i))

            store.write(batch)
            done = upto
            if done % 100_000 == 0:
                print(f"  {done:,} entries", flush=True)
        build = time.perf_counter() - t0
        print(f"appended {n:,} entries in {build:.0f} s ({n / build:,.0f}/s)")
        cp, _ = log.checkpoint()
        inc: list[float] = []
        for k in range(args.proofs):
            i = rng.randrange(n)
            t = time.perf_counter()
            proof = log.inclusion(i, n)
            inc.append(time.perf_counter() - t)
            if k % 10 == 0:
                verify_inclusion(leaf_hash(entry_bytes(entry(i))), i, n, proof, cp.root)
        con: list[float] = []
        for k in range(args.proofs):
            m = rng.randint(1, n)
            t = time.perf_counter()
            proof = log.consistency(m, n)
            con.append(time.perf_counter() - t)
            if k % 10 == 0:
                verify_consistency(m, n, proof, log.root(m), cp.root)
        result = {"args": vars(args), "appends_per_s": n / build,
                  "inclusion_us": {k: v * 1e6 if k != "n" else v
                                   for k, v in summary(inc).items()},
                  "consistency_us": {k: v * 1e6 if k != "n" else v
                                     for k, v in summary(con).items()},
                  "db_bytes": os.path.getsize(Path(tmp) / "log.db") if not args.store else None}
        print(f"inclusion proof from the store at {n:,}: p50 {result['inclusion_us']['p50']:.0f}"
              f" µs, p99 {result['inclusion_us']['p99']:.0f} µs; consistency p50 "
              f"{result['consistency_us']['p50']:.0f} µs, p99 "
              f"{result['consistency_us']['p99']:.0f} µs")
        store.close()
    print(f"saved {save('log_store', result)}")


if __name__ == "__main__":
    main()
