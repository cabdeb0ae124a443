"""Search and correlation lookups through the API on a filled node, per code tree.

    python -m bench.search_api --keep /tmp/node1m --objects 1000000      # fill once, keep it
    python -m bench.search_api --keep /tmp/node1m --tree /work/wt/base --tree . --pairs 3

The first run fills a node in ``--keep`` through the real publish path (``bench.scale``'s
envelopes: bravo first publishes ``--correlated`` objects whose values the fill's first
envelopes hold, then alpha publishes the fill), and keeps it with the tokens and the
values to search. Each run then starts ``vigil serve`` on that node with the code of
each ``--tree`` in turn (``PYTHONPATH=TREE/src:TREE``), ``--pairs`` times, waits for
the correlation to catch up and times, in blocks of ``--n`` requests each, from one
client with its garbage collector off:

- ``healthz``: ``GET /healthz``, the floor (client, connection, request handling);
- ``search``: ``GET /api/v1/search`` of stored values (alpha);
- ``correlations``: ``GET /api/v1/correlations?after=<seq>&limit=10`` from cursors drawn
  among bravo's notices.

Per route: client-side p50/p99 (ms) and the server process's CPU per request (ms: its
utime + stime over the block, all its threads, from /proc), which a loaded machine
inflates far less than the wall times; with the load average at the start and end.
The node is only read (sign-ins are recorded), so every tree sees the same data.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import pct
from bench.scale import collection, envelopes, post, searchable
from vigil.testing import ServerProcess, make_node

ROUTES = ("healthz", "search", "correlations")


def fill(keep: Path, objects: int, correlated: int) -> None:
    node = make_node(keep / "node", {"alpha": True, "bravo": True})
    tokens = {m: node.members[m].token for m in node.members}
    srv = ServerProcess(node.data).start(timeout=120)
    values: list[str] = []
    try:
        with httpx.Client(base_url=srv.url, timeout=600, auth=("alpha", tokens["alpha"])) as a, \
                httpx.Client(base_url=srv.url, timeout=600, auth=("bravo", tokens["bravo"])) as b:
            post(b, collection(b, srv.url, "publish-community-green"),
                 next(envelopes(correlated)))
            url = collection(a, srv.url, "publish-community-green")
            source = envelopes(1000)
            stored = 0
            while stored < objects:
                objs = next(source)
                post(a, url, objs)
                stored += len(objs)
                if len(values) < 100_000:
                    values += searchable(objs[:20])
            a.get("/api/v1/search", params={"q": values[0]}, timeout=3600)
    finally:
        srv.stop()
    (keep / "bench.json").write_text(json.dumps({"tokens": tokens, "values": values,
                                                 "objects": stored}))


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(keep: Path, tree: Path, n: int) -> dict[str, Any]:
    doc = json.loads((keep / "bench.json").read_text())
    tokens, values = doc["tokens"], doc["values"]
    env = {"PYTHONPATH": f"{tree / 'src'}:{tree}"}
    out: dict[str, Any] = {"tree": str(tree), "objects": doc["objects"],
                           "load_average": os.getloadavg()}
    srv = ServerProcess(keep / "node", env=env).start(timeout=300)
    assert srv.proc is not None
    try:
        with httpx.Client(base_url=srv.url, timeout=600, auth=("alpha", tokens["alpha"])) as a, \
                httpx.Client(base_url=srv.url, timeout=600, auth=("bravo", tokens["bravo"])) as b:
            a.get("/api/v1/search", params={"q": values[0]}, timeout=3600)  # caught up
            page = b.get("/api/v1/correlations", params={"limit": 1000}).json()
            seqs = [0] + [x["seq"] for x in page["notices"]]
            sample = random.Random(7).sample(values, min(n, len(values)))
            cursors = random.Random(3).choices(seqs, k=n)
            calls = {
                "healthz": lambda i: a.get("/healthz"),
                "search": lambda i: a.get("/api/v1/search", params={"q": sample[i % len(sample)]}),
                "correlations": lambda i: b.get("/api/v1/correlations",
                                                params={"after": cursors[i], "limit": 10}),
            }
            gc.collect()
            gc.disable()
            try:
                for route in ROUTES:
                    times = []
                    c0 = server_cpu(srv.proc.pid)
                    for i in range(n):
                        t = time.perf_counter()
                        r = calls[route](i)
                        times.append(time.perf_counter() - t)
                        assert r.status_code == 200, r.text[:300]
                    cpu = server_cpu(srv.proc.pid) - c0
                    out[route] = {"p50_ms": pct(times, 50) * 1000, "p99_ms": pct(times, 99) * 1000,
                                  "server_cpu_ms": cpu / n * 1000}
            finally:
                gc.enable()
            out["notices"] = len(seqs) - 1
    finally:
        srv.stop()
    out["load_average_after"] = os.getloadavg()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, required=True, help="the filled node's directory")
    ap.add_argument("--objects", type=int, default=1_000_000, help="objects of a new fill")
    ap.add_argument("--correlated", type=int, default=100)
    ap.add_argument("--tree", type=Path, action="append",
                    help="a code tree to serve with (repeat; default: this one)")
    ap.add_argument("--pairs", type=int, default=1, help="rounds over the trees")
    ap.add_argument("--n", type=int, default=1000, help="requests per route")
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    if not (args.keep / "bench.json").is_file():
        fill(args.keep, args.objects, args.correlated)
    trees = [t.resolve() for t in args.tree or [Path(__file__).resolve().parent.parent]]
    for _ in range(args.pairs):
        for tree in trees:
            print(json.dumps(measure(args.keep, tree, args.n)), flush=True)


if __name__ == "__main__":
    main()
