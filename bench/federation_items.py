"""Per-item CPU of a federation drain, in one process: ``build_batch`` at the origin and
``receiver.receive`` at the destination, batch after batch, for a backlog of shares
queued by athens (member alpha) for berlin (member bravo), both on SQLite.

    python -m bench.federation_items --shares 1000 [--trust] [--postgres ADMIN_URL]

Prints CPU microseconds per item (process time, so less swayed by a busy machine than
wall time) and wall milliseconds per item for each side, and for the destination's
write transactions alone (``store.write`` during ``receive``: what it holds the write
lock for). No HTTP, TLS or streams: what the two nodes' own code costs per item.
``--trust``: berlin's trust service gates every item, as on a federating node (the
fork alarm and roster gate, the revoked-key check and the key-use record of each
share); installed once the members are announced. ``--postgres``: berlin's store is a
fresh PostgreSQL database on that server (made from a migrated template, dropped after).

Before/after in one run: the same command with ``PYTHONPATH`` on the old tree's
``src`` first, then on this one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from tests.federation.pairs import batch, make, peer, sync
from tests.federation.pairs import deliver as first_batch

from vigil.federation import receiver
from vigil.federation.trust import TrustService
from vigil.model import Actor, Tlp
from vigil.storage import federation as q
from vigil.testing.postgres import Databases
from vigil.testing.stix import canary_bundle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shares", type=int, default=1000)
    ap.add_argument("--trust", action="store_true",
                    help="gate berlin's intake with its trust service")
    ap.add_argument("--postgres", metavar="ADMIN_URL",
                    help="berlin on a fresh database of this PostgreSQL server")
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "test-passphrase")
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="vigil-feditems-"))
        url = None
        if args.postgres:
            dbs = Databases(args.postgres)
            stack.callback(dbs.close)  # after the drop below: it waits for it
            url = stack.enter_context(dbs.fresh())
        a = make(Path(tmp), "athens", {"alpha": True})
        b = make(Path(tmp), "berlin", {"bravo": True}, store=url)
        trust: TrustService | None = None
        try:
            peer(a, b)
            first_batch(a, b)
            first_batch(b, a)
            trust = TrustService(b.ex) if args.trust else None
            if trust is not None:
                trust.install()
            alpha = a.id("alpha")
            req = a.ex.make_request(alpha, tlp=Tlp.AMBER, to=["member:bravo@berlin"])
            for k in range(args.shares):
                a.ex.publish_bundle(Actor(alpha), canary_bundle(f"item{k}"), req)
            sync(a, b)
            dest = b.ex.node_id
            cpu = {"build": 0.0, "receive": 0.0, "locked": 0.0}
            wall = {"build": 0.0, "receive": 0.0, "locked": 0.0}
            write = b.ex.store.write

            def timed(fn: Callable[[Any], Any]) -> Any:
                c, w = time.process_time(), time.perf_counter()
                try:
                    return write(fn)
                finally:
                    cpu["locked"] += time.process_time() - c
                    wall["locked"] += time.perf_counter() - w

            b.ex.store.write = timed  # type: ignore[method-assign]
            while True:
                head, acked, *_ = a.ex.store.read(lambda sql: q.link(sql, dest))
                if acked >= head:
                    break
                c0, w0 = time.process_time(), time.perf_counter()
                raw = orjson.dumps(batch(a, b))
                c1, w1 = time.process_time(), time.perf_counter()
                got = receiver.receive(b.ex, b.peers["athens"], raw)
                c2, w2 = time.process_time(), time.perf_counter()
                cpu["build"] += c1 - c0
                cpu["receive"] += c2 - c1
                wall["build"] += w1 - w0
                wall["receive"] += w2 - w1
                a.ex.store.write(partial(q.set_acked, dest=dest,
                                         acked=int(got.ack["ack"]["cursor"]),
                                         at="2026-01-01T00:00:00.000Z"))
            n = args.shares
            for side in ("build", "receive", "locked"):
                print(f"{side}: {cpu[side] / n * 1e6:.0f} us CPU/item, "
                      f"{wall[side] / n * 1e3:.3f} ms wall/item")
        finally:
            if trust is not None:
                trust.uninstall()
            a.close()
            b.close()


if __name__ == "__main__":
    main()
