"""How long a small publish waits while another member publishes large bundles, in
process (no HTTP): where the fairness benchmark's loaded p99 comes from.

    python -m bench.writer_wait                 # three 31 MiB sealed shares
    python -m bench.writer_wait --bundle-mb 8 --large 5
    python -m bench.writer_wait --payload-apart 0   # large payloads kept in their rows

One thread publishes a small share every 50 ms (``quiet`` to ``peer``) while the main
thread publishes ``--large`` bundles of ``--bundle-mb`` MiB (``loud`` to ``sink``,
sealed, checked in a bundle worker process as ``vigil serve`` does). Prints each large
publish's end and the small publishes' worst waits with the time each ended: waits
that end with a large publish are spent behind its store transaction.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.delivery import small_bundle
from bench.fairness import large_bundle
from vigil.features import open_exchange
from vigil.model import Actor, Tlp
from vigil.node.bundle_pool import BundlePool
from vigil.testing import make_node


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bundle-mb", type=float, default=31.0)
    ap.add_argument("--large", type=int, default=3)
    ap.add_argument("--payload-apart", type=int, default=None,
                    help="the node's payload_apart setting (0: every payload in its row)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        node = make_node(Path(tmp) / "node", {"loud": True, "sink": True, "quiet": True,
                                              "peer": True})
        settings = node.settings if args.payload_apart is None else \
            node.settings.with_overrides(payload_apart=args.payload_apart)
        ex = open_exchange(settings)
        ex.bundles = BundlePool(1)
        loud = Actor(node.members["loud"].id, "bench")
        quiet = Actor(node.members["quiet"].id, "bench")
        big = ex.make_request(loud.member, tlp=Tlp.AMBER, to=["member:sink"])
        small = ex.make_request(quiet.member, tlp=Tlp.AMBER, to=["member:peer"])
        body = large_bundle(args.bundle_mb)
        waits: list[tuple[float, float]] = []
        stop = threading.Event()
        t0 = time.perf_counter()

        def steady() -> None:
            i = 0
            while not stop.is_set():
                t = time.perf_counter()
                ex.publish_bundle(quiet, small_bundle(i), small)
                waits.append((time.perf_counter() - t, time.perf_counter() - t0))
                i += 1
                stop.wait(0.05)

        th = threading.Thread(target=steady)
        th.start()
        try:
            for _ in range(args.large):
                fresh = re.sub(rb"bundle--[0-9a-f-]{36}", f"bundle--{uuid.uuid4()}".encode(),
                               body, count=1)
                t = time.perf_counter()
                ex.publish_bundle(loud, fresh, big)
                print(f"large publish: {time.perf_counter() - t:.2f} s, ended at "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)
            time.sleep(2.0)
        finally:
            stop.set()
            th.join()
            ex.bundles.close()
            ex.store.close()
    worst = sorted(waits, reverse=True)[:8]
    print(f"{len(waits)} small publishes; worst waits (ms, ended at s): "
          + ", ".join(f"{w * 1000:.0f} @ {at:.1f}" for w, at in worst))


if __name__ == "__main__":
    main()
