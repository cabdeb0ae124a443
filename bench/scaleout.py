"""SQLite with one process beside PostgreSQL + NATS JetStream with two workers, same run.

    python -m bench.scaleout [--bundles 50] [--subscribers 100] [--shares 50]

Ingest: the SQLite node ingests with one process; then a PostgreSQL node ingests with
two worker processes at once (each its own share of the bundles); per-worker objects/s
is compared with SQLite's. Delivery: publish -> SSE latency with 100 subscribers on
SQLite + in-process bus (one server), then on PostgreSQL + NATS (two servers, the
subscribers spread over both, publishing through the first).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

from bench.common import save
from bench.ingest import setup

PG_ADMIN = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NATS = os.environ.get("VIGIL_TEST_NATS", "nats://127.0.0.1:4222")


def run(*args: str) -> str:
    p = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                       check=True)
    return p.stdout


def ingest_pair(pg_url: str, admin: psycopg.Connection[Any], db: str, bundles: int,
                node_only: bool) -> dict[str, Any]:
    """SQLite with one process, PostgreSQL with one worker, then with two at once."""
    extra = ["--node-only"] if node_only else []
    with tempfile.TemporaryDirectory() as tmp:
        node, ex = setup(Path(tmp), 20)
        ex.store.close()
        sqlite = json.loads(run("bench.ingest", "--attach", str(node.data), "--bundles",
                                str(bundles), "--json", *extra))
    print(f"  SQLite, one process: {sqlite['objects_per_s']:,.0f} objects/s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        node, ex = setup(Path(tmp), 20, store=pg_url)
        ex.store.close()
        one = json.loads(run("bench.ingest", "--attach", str(node.data), "--bundles",
                             str(bundles), "--json", *extra))
    print(f"  PostgreSQL, one worker: {one['objects_per_s']:,.0f} objects/s "
          f"({one['objects_per_s'] / sqlite['objects_per_s']:.2f}x SQLite)", flush=True)
    admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{db}"')
    with tempfile.TemporaryDirectory() as tmp:
        node, ex = setup(Path(tmp), 20, store=pg_url)
        ex.store.close()
        procs = [subprocess.Popen(
            [sys.executable, "-m", "bench.ingest", "--attach", str(node.data), "--bundles",
             str(bundles), "--offset", str(k * bundles), "--json", *extra],
            stdout=subprocess.PIPE, text=True) for k in range(2)]
        two = [json.loads(p.communicate()[0]) for p in procs]
    per_worker = sum(r["objects_per_s"] for r in two) / len(two)
    ratio = per_worker / sqlite["objects_per_s"]
    print(f"  PostgreSQL, two workers at once: {per_worker:,.0f} objects/s per worker "
          f"({sum(r['objects_per_s'] for r in two):,.0f} together; {ratio:.2f}x SQLite)",
          flush=True)
    admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
    admin.execute(f'CREATE DATABASE "{db}"')
    return {"sqlite_one_process": sqlite, "postgres_one_worker": one,
            "postgres_one_worker_ratio_to_sqlite": one["objects_per_s"] / sqlite["objects_per_s"],
            "postgres_two_workers": two, "per_worker_objects_per_s": per_worker,
            "per_worker_ratio_to_sqlite": ratio}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bundles", type=int, default=50, help="per worker")
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--shares", type=int, default=50)
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    admin = psycopg.connect(PG_ADMIN, autocommit=True)
    db = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{db}"')
    pg_url = PG_ADMIN.rpartition("/")[0] + "/" + db
    result: dict[str, Any] = {"args": vars(args)}
    try:
        print("ingest, the node's part only (clients build and seal before timing) …",
              flush=True)
        result["ingest_node_side"] = ingest_pair(pg_url, admin, db, args.bundles, True)
        print("ingest, whole path in the worker (parse, validate, sign, seal, store) …",
              flush=True)
        result["ingest_whole_path"] = ingest_pair(pg_url, admin, db, args.bundles, False)
        print("delivery, SQLite + in-process bus, one server …", flush=True)
        out = run("bench.delivery", "--subscribers", str(args.subscribers), "--shares",
                  str(args.shares), "--pin")
        print("  " + out.strip().splitlines()[-2], flush=True)
        d1 = json.loads(Path("bench/results/delivery.json").read_text())
        admin.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{db}"')
        print("delivery, PostgreSQL + NATS, two servers …", flush=True)
        bus = f"{NATS}?prefix=vbench{uuid.uuid4().hex[:6]}"
        out = run("bench.delivery", "--subscribers", str(args.subscribers), "--shares",
                  str(args.shares), "--store", pg_url, "--bus", bus, "--workers", "2")
        print("  " + out.strip().splitlines()[-2], flush=True)
        d2 = json.loads(Path("bench/results/delivery-scaleout.json").read_text())
        result["delivery"] = {"sqlite_one_server": d1, "postgres_nats_two_servers": d2}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
    print(f"saved {save('scaleout', result)}")


if __name__ == "__main__":
    main()
