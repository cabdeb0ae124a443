"""Transparency log: build a 1,000,000-leaf tree, then time inclusion and consistency proofs.

    python -m bench.log_proof                     # 1,000,000 leaves, 10,000 proofs of each kind
    python -m bench.log_proof --leaves 100000 --proofs 1000

The tree is vigil.log.merkle.MemoryTree, which keeps every perfect subtree as a store
would; a proof reads at most 2 log2(n) of its nodes. Leaf hashes are computed before
the clock starts, so "appends/s" is the tree's own work: one leaf node plus the perfect
nodes it completes (2 per leaf on average). Proof times are per proof, at uniformly
random indices (inclusion, in the full tree) and random old sizes (consistency, to the
full tree), and include nothing but building the proof; verification is timed apart.
One thread: the figures are per core.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from bench.common import save, summary
from vigil.log.merkle import (
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)


class CountingSource:
    """Counts node reads (run once per proof kind, outside the timed loop)."""

    def __init__(self, tree: MemoryTree) -> None:
        self.tree = tree
        self.reads = 0

    def get(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.tree.get(level, index)


def micros(start: int, end: int) -> float:
    return (end - start) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--proofs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=9162)
    args = ap.parse_args()
    n, rng = args.leaves, random.Random(args.seed)

    hashes = [leaf_hash(b"vigil bench leaf %d" % i) for i in range(n)]
    tree = MemoryTree()
    created = 0
    t0 = time.perf_counter()
    for h in hashes:
        created += len(tree.append(h))
    build_s = time.perf_counter() - t0
    del hashes
    root = tree.root()
    print(f"built {n:,} leaves in {build_s:.2f} s: {n / build_s:,.0f} appends/s, "
          f"{created:,} perfect nodes")

    clock = time.perf_counter_ns
    incl_gen, incl_ver, incl_len = [], [], []
    for _ in range(args.proofs):
        index = rng.randrange(n)
        t1 = clock()
        proof = inclusion_proof(index, n, tree)
        t2 = clock()
        verify_inclusion(tree.get(0, index), index, n, proof, root)
        t3 = clock()
        incl_gen.append(micros(t1, t2))
        incl_ver.append(micros(t2, t3))
        incl_len.append(len(proof))

    roots: dict[int, bytes] = {}
    root_times: list[float] = []
    cons_gen, cons_ver, cons_len = [], [], []
    olds = [rng.randrange(1, n) for _ in range(args.proofs)]
    for m in olds:  # old roots as a verifier would hold them (from checkpoints)
        t1 = clock()
        roots[m] = tree.root(m)
        t2 = clock()
        root_times.append(micros(t1, t2))
    for m in olds:
        t1 = clock()
        proof = consistency_proof(m, n, tree)
        t2 = clock()
        verify_consistency(m, n, proof, roots[m], root)
        t3 = clock()
        cons_gen.append(micros(t1, t2))
        cons_ver.append(micros(t2, t3))
        cons_len.append(len(proof))

    counter = CountingSource(tree)
    inclusion_proof(n // 3, n, counter)
    incl_reads = counter.reads
    counter.reads = 0
    consistency_proof(n // 3, n, counter)
    cons_reads = counter.reads

    result: dict[str, Any] = {
        "args": vars(args),
        "build": {"leaves": n, "seconds": build_s, "appends_per_s": n / build_s,
                  "perfect_nodes": created},
        "root_of_old_size_us": summary(root_times),
        "inclusion_us": summary(incl_gen),
        "inclusion_verify_us": summary(incl_ver),
        "inclusion_proof_hashes_max": max(incl_len),
        "inclusion_reads_example": incl_reads,
        "consistency_us": summary(cons_gen),
        "consistency_verify_us": summary(cons_ver),
        "consistency_proof_hashes_max": max(cons_len),
        "consistency_reads_example": cons_reads,
        "target_p99_us": 1000,
    }
    for kind in ("inclusion", "consistency"):
        gen, ver = result[f"{kind}_us"], result[f"{kind}_verify_us"]
        print(f"{kind:11} proof: p50 {gen['p50']:.1f} µs, p99 {gen['p99']:.1f} µs, "
              f"max {gen['max']:.1f} µs | verify p50 {ver['p50']:.1f} µs, "
              f"p99 {ver['p99']:.1f} µs | <= {result[f'{kind}_proof_hashes_max']} hashes")
    print(f"root of an old size: p50 {result['root_of_old_size_us']['p50']:.1f} µs")
    ok = result["inclusion_us"]["p99"] < 1000 and result["consistency_us"]["p99"] < 1000
    print(f"target p99 < 1 ms: {'met' if ok else 'MISSED'}")
    print(f"saved {save('log_proof', result)}")


if __name__ == "__main__":
    main()
