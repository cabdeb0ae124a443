"""What the transparency log costs the node's ingest, side by side in one run.

    python -m bench.log_cost                          # SQLite, 1,000- and 10-object shares
    python -m bench.log_cost --store postgresql://127.0.0.1/vigil_bench

The node's part of ingest (parse the envelope, check signature and policy, store the
share and its inbox rows) is timed with the log on, and with the log's append replaced
by a no-op ("off": what the node did before it kept a log), alternating rounds on one
node so that noise hits both alike. Two share sizes: 1,000 real IOCs per share (the
ingest benchmark's shape) and 10 per share, where the log's fixed per-share cost weighs
most. The figure is objects/s with the log / without it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from bench.common import cycle_chunks, real_iocs, save
from bench.ingest import client_side, node_side, origin_of, setup
from vigil.interop.iocs import indicators_bundle
from vigil.log.tree import LogRef, StoredLog
from vigil.storage.base import Sql

_DUMMY = LogRef(0, 1, b"\x00" * 32, (), lambda size, root: "")


def _no_log(self: StoredLog, sql: Sql, entry: Any, *, locked: bool = False) -> LogRef:
    return _DUMMY


def timed(ex: Any, origin: Any, wires: list[bytes]) -> float:
    import time

    t0 = time.perf_counter()
    for w in wires:
        node_side(ex, origin, w)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", help="store URL (default SQLite in a temp dir)")
    ap.add_argument("--rounds", type=int, default=6, help="rounds per mode and size")
    ap.add_argument("--recipients", type=int, default=20)
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    iocs = real_iocs()
    result: dict[str, Any] = {"args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        node, ex = setup(Path(tmp), args.recipients, args.store)
        origin = origin_of(node)
        real_append = StoredLog.append
        for size, per_round in ((1000, 10), (10, 300)):
            chunks = list(cycle_chunks(iocs, size, per_round * args.rounds * 2))
            bundles = [orjson.dumps(indicators_bundle(c)) for c in chunks]
            wires = [client_side(ex, origin, b) for b in bundles]
            on = off = 0.0
            for r in range(args.rounds * 2):
                part = wires[r * per_round:(r + 1) * per_round]
                log_on = r % 2 == 0
                StoredLog.append = real_append if log_on else _no_log  # type: ignore[method-assign]
                secs = timed(ex, origin, part)
                if log_on:
                    on += secs
                else:
                    off += secs
            StoredLog.append = real_append  # type: ignore[method-assign]
            objects = per_round * args.rounds * size
            row = {"objects_per_share": size, "with_log_objects_per_s": objects / on,
                   "without_log_objects_per_s": objects / off, "ratio": off / on}
            result[f"size_{size}"] = row
            print(f"{size:>5} objects/share: with log {objects / on:,.0f} obj/s, without "
                  f"{objects / off:,.0f} obj/s -> ratio {off / on:.3f} "
                  f"(cost {100 * (1 - off / on):.1f}%)")
        result["log_size"] = ex.log.size()
        ex.store.close()
    print(f"saved {save('log_cost', result)}")


if __name__ == "__main__":
    main()
