"""What a share's publish writes to disk and how long it takes, by its number of
recipients, for this tree and a baseline tree in the same run.

    python -m bench.publish_path --baseline /work/main        # this tree beside main's
    python -m bench.publish_path --recipients 100 --shares 200 --rounds 3
    python -m bench.publish_path --baseline /work/main --store postgresql://postgres@127.0.0.1/postgres

Each measurement runs in a child process with one tree's ``src`` on its path: a SQLite
node (``vigil.testing.make_node``, every feature installed as ``vigil serve`` does) with
the publisher and ``--recipients`` other members, keys held by the node, and
``--shares`` small TLP:GREEN community shares (one indicator each) published one after
another through ``Exchange.publish_bundle``, the node's whole path of a REST publish
without HTTP: checks, signature, the share's durable transaction (inbox rows, log entry,
every feature's rows) and the hooks after it. Per share: the time of the call, and the
bytes the process sent to storage during it (``write_bytes`` of /proc/self/io: the WAL
frames its commit wrote and synced; a checkpoint that runs in the call is counted too).
With ``--store`` (PostgreSQL), each child uses a fresh database on that server (dropped
after) and the bytes are the server's WAL written during the call
(``pg_current_wal_lsn``: the whole cluster's, so other work on the server adds to it).
The first ``--warmup`` shares are left out. Trees alternate (this, baseline, this, …)
for ``--rounds`` rounds, so neither gains from the load of the moment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import pct

ROOT = Path(__file__).resolve().parents[1]


def write_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/self/io")


def wal_lsn(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        assert row is not None
        return int(row[0])


def child(recipients: int, shares: int, warmup: int, store: str | None) -> dict[str, Any]:
    import psycopg

    url, name = None, f"vigil_publish_{uuid.uuid4().hex[:8]}"
    if store is not None:
        with psycopg.connect(store, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        url = store.rsplit("/", 1)[0] + "/" + name
    written_now = write_bytes if url is None else (lambda: wal_lsn(str(url)))
    try:
        return _child(recipients, shares, warmup, url, written_now)
    finally:
        if store is not None:
            with psycopg.connect(store, autocommit=True) as c:
                c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _child(recipients: int, shares: int, warmup: int, url: str | None,
           written_now: Any) -> dict[str, Any]:
    import orjson

    from vigil.model import Actor, Tlp
    from vigil.testing import make_node

    with tempfile.TemporaryDirectory() as tmp:
        names = {f"m{i:03d}": True for i in range(recipients + 1)}
        node = make_node(Path(tmp) / "node", names, store=url)
        ex = node.exchange()
        who = node.members["m000"].id
        req = ex.make_request(who, tlp=Tlp.GREEN)
        times, written = [], []
        ts = "2026-11-29T08:00:00.000Z"
        for i in range(shares + warmup):
            raw = orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                "objects": [{
                                    "type": "indicator", "spec_version": "2.1",
                                    "id": f"indicator--{uuid.uuid4()}", "created": ts,
                                    "modified": ts, "name": f"bench {i}",
                                    "pattern_type": "stix", "valid_from": ts,
                                    "pattern": f"[ipv4-addr:value = '203.0.113.{i % 250}']"}]})
            w0, t0 = written_now(), time.perf_counter()
            pub = ex.publish_bundle(Actor(who), raw, req)
            dt, dw = time.perf_counter() - t0, written_now() - w0
            assert len(pub.recipients) == recipients
            if i >= warmup:
                times.append(dt * 1000)
                written.append(dw)
        ex.store.close()
    return {"times_ms": times, "written": written}


def run(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-m", "bench.publish_path", "--child",
                          "--recipients", str(args.recipients), "--shares", str(args.shares),
                          "--warmup", str(args.warmup),
                          *(["--store", args.store] if args.store else [])], env=env, cwd=ROOT,
                         capture_output=True, text=True, check=True)
    got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, help="another checkout to compare with")
    ap.add_argument("--recipients", type=int, default=100)
    ap.add_argument("--shares", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--store", help="a PostgreSQL URL: each run in a fresh database there")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.recipients, args.shares, args.warmup, args.store)))
        return
    trees = {"this": ROOT / "src"}
    if args.baseline is not None:
        trees["baseline"] = args.baseline / "src"
    for r in range(args.rounds):
        for name, src in trees.items():
            load = os.getloadavg()[0]
            got = run(src, args)
            t, w = got["times_ms"], got["written"]
            print(json.dumps({
                "round": r + 1, "tree": name, "load": round(load, 1),
                "store": "postgresql" if args.store else "sqlite",
                "recipients": args.recipients, "shares": len(t),
                "publish_ms_p50": round(statistics.median(t), 2),
                "publish_ms_p99": round(pct(t, 99), 2),
                "written_kb_per_share_mean": round(statistics.mean(w) / 1024, 1),
                "written_kb_per_share_p50": round(statistics.median(w) / 1024, 1),
            }), flush=True)


if __name__ == "__main__":
    main()
