"""Scale: a node filled to N objects through the real publish path, measured per window.

    python -m bench.scale --objects 1000000 --json                 # SQLite, 1M
    python -m bench.scale --objects 1000000 --store postgresql://postgres@127.0.0.1/postgres
    python -m bench.scale --objects 10000000 --window 1000000      # the long run (hours)

A ``vigil serve`` process (with its correlation worker) on a loopback port; this process
POSTs TAXII envelopes of ``--envelope`` objects, one after another, to the member's
``publish-community-green`` collection (a plain share to every member: parsed, validated,
signed, stored with its log entry, TAXII object index, ledger facts, then correlated).
Objects are real data shapes: abuse.ch IOCs as STIX indicators (bench.common) and, one
object in ten, MITRE ATT&CK objects under fresh ids (shared/data/attack, else the demo's
ATT&CK for ICS subset).

Per window of ``--window`` objects it reports: objects/s of the window; single-POST
p50/p99; CPU time of the server process (not its worker) per POST, which a loaded
machine changes less than the rates; RSS of the server and of its correlation worker;
bytes on disk (SQLite: the database, WAL and shm files; PostgreSQL:
``pg_database_size``); bytes written per object in the window (SQLite: ``write_bytes``
of /proc/<pid>/io of the server and its children; PostgreSQL: WAL bytes,
``pg_current_wal_lsn``) and that over the canonical size of the
objects (their compact JSON); search p50/p99 (``GET /api/v1/search`` of values stored,
client side, after the correlation caught up) with the floor of the same loop (a
``GET /healthz`` before each search); and correlation lookup p50/p99 (``GET
/api/v1/correlations``, a page of 10 of bravo's notices from a random cursor: before
the fill bravo publishes ``--correlated`` objects whose values the fill's first
envelopes hold). At the end (SQLite), what the WAL still
holds is checkpointed from this process and the bytes written over the whole fill,
that included, are reported per object (``written_per_object_run``: the windows count
a checkpoint in the window it runs in, and the last one's may not have run yet); and
SQLite's bytes per table and index (``dbstat``) per object.

``--medallion``: before the fill, TAXII ingest with envelopes of ``--small-envelope``
objects into vigil holding ``--medallion-at`` objects (the start of the fill), and into a
medallion server (memory backend) holding the same, same client; objects/s of each.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import medallion
from bench.common import DEMO, SHARED, cycle_chunks, pct, real_iocs, save
from vigil.interop.iocs import indicator
from vigil.testing import ServerProcess, make_node

TAXII = medallion.TAXII
HEADERS = {"Accept": TAXII, "Content-Type": TAXII}


# -- data ------------------------------------------------------------------------------------

def attack_objects() -> list[dict[str, Any]]:
    """ATT&CK objects (no relationships, no marking definitions, no deprecated ones)."""
    path = SHARED / "attack" / "ics-attack-18.1.json.gz"
    if path.is_file():
        doc = json.loads(gzip.decompress(path.read_bytes()))
    else:
        doc = json.loads((DEMO / "ics-attack-subset.json").read_text("utf-8"))
    return [o for o in doc["objects"] if o["type"] not in ("relationship", "marking-definition",
                                                           "x-mitre-collection")
            and not o.get("revoked") and not o.get("x_mitre_deprecated")]


def envelopes(size: int) -> Iterator[list[dict[str, Any]]]:
    """Endless envelopes of ``size`` objects with fresh ids: nine in ten IOC indicators,
    one in ten ATT&CK objects."""
    attack = attack_objects()
    n_attack = size // 10
    k = 0
    for chunk in cycle_chunks(real_iocs(), size - n_attack, 1 << 40):
        objs = [{**indicator(i), "id": f"indicator--{uuid.uuid4()}"} for i in chunk]
        for _ in range(n_attack):
            o = attack[k % len(attack)]
            k += 1
            objs.append({**o, "id": f"{o['type']}--{uuid.uuid4()}"})
        yield objs


def searchable(objs: list[dict[str, Any]]) -> list[str]:
    """Values in the patterns of indicators (``[type:prop = 'v']``), to search for."""
    out = []
    for o in objs:
        p = o.get("pattern", "")
        if "= '" in p:
            out.append(p.split("= '", 1)[1].split("'", 1)[0])
    return out


# -- the process tree ------------------------------------------------------------------------

def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """CPU seconds (user and system) of a process so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def written(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/io").read_text().splitlines():
                if line.startswith("write_bytes:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def own_written() -> int:
    """``write_bytes`` of this process alone."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def checkpoint_rest(db: Path) -> int:
    """Copy what the WAL still holds into the database (from this process, as the
    server's checkpointer would once its WAL is full or writes pause); the bytes that
    took."""
    import sqlite3

    before = own_written()
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for _ in range(100):
            busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if not busy and frames == copied:
                break
            time.sleep(0.1)
    finally:
        conn.close()
    return own_written() - before


# -- stores ----------------------------------------------------------------------------------

class Disk:
    """Bytes on disk and bytes written, per store kind."""

    def __init__(self, data: Path, store_url: str) -> None:
        self.data = data
        self.pg = store_url.startswith("postgres")
        self.url = store_url

    def _pg(self, q: str) -> Any:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as c:
            row = c.execute(q).fetchone()
            assert row is not None
            return row[0]

    def size(self) -> int:
        if self.pg:
            return int(self._pg("SELECT pg_database_size(current_database())"))
        return sum(f.stat().st_size for f in self.data.glob("vigil.db*"))

    def written(self, pid: int) -> int:
        if self.pg:
            return int(self._pg("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
        return written(pid)

    def breakdown(self) -> dict[str, int]:
        if self.pg:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as c:
                return {str(n): int(s) for n, s in c.execute(
                    "SELECT relname, pg_relation_size(c.oid) FROM pg_class c JOIN "
                    "pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
                    "current_schema() AND c.relkind IN ('r', 'i', 't') "
                    "ORDER BY 2 DESC").fetchall() if s}
        import sqlite3

        c = sqlite3.connect(f"file:{self.data / 'vigil.db'}?mode=ro", uri=True)
        try:
            return {str(n): int(s) for n, s in c.execute(
                "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")}
        finally:
            c.close()


def pg_database(base: str) -> str:
    """A fresh database on the server of ``base``; its URL."""
    import psycopg

    name = f"vigil_scale_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


# -- the run ---------------------------------------------------------------------------------

def collection(client: httpx.Client, url: str, alias: str) -> str:
    r = client.get(f"{url}/taxii2/api/collections/", headers={"Accept": TAXII})
    for c in r.json()["collections"]:
        if c["alias"] == alias:
            return f"{url}/taxii2/api/collections/{c['id']}/objects/"
    raise KeyError(alias)


def post(client: httpx.Client, url: str, objs: list[dict[str, Any]]) -> tuple[float, int]:
    body = orjson.dumps({"objects": objs})
    t = time.perf_counter()
    r = client.post(url, content=body, headers=HEADERS, timeout=600)
    dt = time.perf_counter() - t
    assert r.status_code == 202, r.text
    assert r.json()["success_count"] == len(objs), r.text[:500]
    return dt, sum(len(orjson.dumps(o)) for o in objs)


def search_p99(client: httpx.Client, url: str, values: list[str], n: int) -> dict[str, float]:
    """Search latency (ms) of ``n`` stored values, after one search that waits for the
    correlation to catch up; each search follows a ``GET /healthz`` in the same loop,
    whose latency (``floor_*``) is what the client, the connection and the server's
    request handling take without a search. This process's garbage collector is off
    while it times them."""
    r = client.get(f"{url}/api/v1/search", params={"q": values[0]}, timeout=3600)
    assert r.status_code == 200, r.text
    times, floor = [], []
    gc.collect()  # this process's collector pauses are no part of a request
    gc.disable()
    for v in random.Random(7).sample(values, min(n, len(values))):
        t = time.perf_counter()
        r = client.get(f"{url}/healthz")
        floor.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text[:300]
        t = time.perf_counter()
        r = client.get(f"{url}/api/v1/search", params={"q": v})
        times.append(time.perf_counter() - t)
        assert r.status_code == 200 and r.json()["count"] >= 1, (v, r.text[:300])
    gc.enable()
    return {"p50_ms": pct(times, 50) * 1000, "p99_ms": pct(times, 99) * 1000,
            "floor_p50_ms": pct(floor, 50) * 1000, "floor_p99_ms": pct(floor, 99) * 1000}


def correlation_p99(client: httpx.Client, url: str, n: int) -> dict[str, float]:
    """Correlation lookup latency (ms): ``n`` reads of a page of the client's notices
    (``GET /api/v1/correlations?after=<seq>&limit=10``) from cursors drawn among its
    notices, after one read that waits for the correlation to catch up."""
    seqs, after = [0], 0
    while True:
        r = client.get(f"{url}/api/v1/correlations", params={"after": after, "limit": 1000},
                       timeout=3600)
        assert r.status_code == 200, r.text
        doc = r.json()
        seqs += [x["seq"] for x in doc["notices"]]
        if doc["next"] == after:
            break
        after = doc["next"]
    times, rng = [], random.Random(7)
    gc.collect()
    gc.disable()
    for _ in range(n):
        cursor = rng.choice(seqs)
        t = time.perf_counter()
        r = client.get(f"{url}/api/v1/correlations", params={"after": cursor, "limit": 10})
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text[:300]
    gc.enable()
    return {"p50_ms": pct(times, 50) * 1000, "p99_ms": pct(times, 99) * 1000,
            "notices": len(seqs) - 1}


def taxii_rate(client: httpx.Client, url: str, source: Iterator[list[dict[str, Any]]],
               count: int) -> float:
    t0 = time.perf_counter()
    n = 0
    for _ in range(count):
        objs = next(source)
        post(client, url, objs)
        n += len(objs)
    return n / (time.perf_counter() - t0)


def versus_medallion(work: Path, client: httpx.Client, url: str, size: int, held: int,
                     envelopes_n: int) -> dict[str, Any]:
    """TAXII ingest with envelopes of ``size`` objects: vigil (holding ``held`` objects)
    and medallion (holding as many), same client."""
    src = envelopes(size)
    ours = taxii_rate(client, url, src, envelopes_n)
    stock = [o for _ in range(max(1, held // size)) for o in next(src)]
    proc, root = medallion.start(work, [medallion.collection("c", stock)], page=1000)
    try:
        with httpx.Client(auth=(medallion.USER, medallion.PASSWORD)) as m:
            theirs = taxii_rate(m, f"{root}collections/c/objects/", src, envelopes_n)
    finally:
        medallion.stop(proc)
    return {"envelope": size, "held": held, "envelopes": envelopes_n,
            "vigil_objects_per_s": ours, "medallion_objects_per_s": theirs,
            "ratio": ours / theirs}


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        work = Path(tmp)
        store = pg_database(args.store) if args.store else None
        node = make_node(work / "node", {"alpha": True, "bravo": True}, store=store)
        disk = Disk(node.data, store or "")
        srv = ServerProcess(node.data).start(timeout=120)
        assert srv.proc is not None
        pid = srv.proc.pid
        out: dict[str, Any] = {"store": "postgresql" if store else "sqlite", "windows": []}
        try:
            with httpx.Client(base_url=srv.url, timeout=120,
                              auth=("alpha", node.members["alpha"].token)) as client, \
                    httpx.Client(base_url=srv.url, timeout=120,
                                 auth=("bravo", node.members["bravo"].token)) as other:
                url = collection(client, srv.url, "publish-community-green")
                source = envelopes(args.envelope)
                # bravo holds values of the fill's first envelopes: its notices are
                # what the correlation lookups read
                post(other, collection(other, srv.url, "publish-community-green"),
                     next(envelopes(args.correlated)))
                stored = 0
                if args.medallion:  # first fill to --medallion-at with big envelopes
                    while stored < args.medallion_at:
                        objs = next(source)
                        post(client, url, objs)
                        stored += len(objs)
                    out["medallion"] = versus_medallion(
                        work, client, url, args.small_envelope, stored, args.small_count)
                    print(json.dumps({"medallion": out["medallion"]}), flush=True)
                    stored += args.small_envelope * args.small_count
                values: list[str] = []
                w0 = (time.perf_counter(), disk.written(pid), stored)
                cpu0 = cpu_s(pid)
                start = (disk.written(pid), stored)
                times: list[float] = []
                canon = 0
                while stored < args.objects:
                    objs = next(source)
                    dt, size = post(client, url, objs)
                    times.append(dt)
                    canon += size
                    stored += len(objs)
                    if len(values) < 100_000:
                        values += searchable(objs[:20])
                    if stored - w0[2] >= args.window or stored >= args.objects:
                        wall = time.perf_counter() - w0[0]
                        n = stored - w0[2]
                        wrote = disk.written(pid) - w0[1]
                        kids = [p for p in tree(pid) if p != pid]
                        window = {
                            "stored": stored, "objects_per_s": n / wall,
                            "post_p50_ms": pct(times, 50) * 1000,
                            "post_p99_ms": pct(times, 99) * 1000,
                            "rss_mib": rss_mib(pid),
                            "worker_rss_mib": sum(rss_mib(p) for p in kids),
                            "disk_bytes": disk.size(),
                            "written_per_object": wrote / n,
                            "canonical_per_object": canon / n,
                            "written_over_canonical": wrote / canon,
                            "server_cpu_ms_per_post": (cpu_s(pid) - cpu0) * 1000
                            / len(times),
                        }
                        window["search"] = search_p99(client, srv.url, values, args.searches)
                        window["correlations"] = correlation_p99(other, srv.url, args.searches)
                        out["windows"].append(window)
                        print(json.dumps(window), flush=True)
                        w0 = (time.perf_counter(), disk.written(pid), stored)
                        cpu0 = cpu_s(pid)
                        times, canon = [], 0
            if not disk.pg:  # the fill's writes whole: with what its WAL still held
                rest = checkpoint_rest(node.data / "vigil.db")
                out["checkpoint_rest_bytes"] = disk.written(pid) - w0[1] + rest
                filled = stored - start[1]
                out["written_per_object_run"] = (disk.written(pid) - start[0] + rest) / filled
            out["breakdown_per_object"] = {k: v / stored for k, v in disk.breakdown().items()}
            out["objects"] = stored
        finally:
            srv.stop()
            if store:
                import psycopg

                with psycopg.connect(args.store, autocommit=True) as c:
                    c.execute(f"DROP DATABASE IF EXISTS {store.rsplit('/', 1)[1]} "
                              "WITH (FORCE)")
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objects", type=int, default=1_000_000)
    ap.add_argument("--window", type=int, default=100_000)
    ap.add_argument("--envelope", type=int, default=1000)
    ap.add_argument("--searches", type=int, default=500, help="searches per window")
    ap.add_argument("--correlated", type=int, default=100,
                    help="objects bravo publishes first, of the fill's values (its notices)")
    ap.add_argument("--store", help="a PostgreSQL URL: run in a fresh database on its server")
    ap.add_argument("--medallion", action="store_true",
                    help="compare TAXII ingest with medallion at the start of the fill")
    ap.add_argument("--medallion-at", type=int, default=10_000)
    ap.add_argument("--small-envelope", type=int, default=100)
    ap.add_argument("--small-count", type=int, default=50)
    ap.add_argument("--tmp", help="directory for the node (default: the system's)")
    ap.add_argument("--json", action="store_true", help="save bench/results/scale*.json")
    args = ap.parse_args()
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "bench")
    result = {"args": vars(args), "load_average": os.getloadavg(), **run(args)}
    result["load_average_after"] = os.getloadavg()
    print(json.dumps({k: v for k, v in result.items() if k != "windows"}, indent=1))
    if args.json:
        name = "scale-pg" if args.store else "scale"
        print(f"saved {save(name, result)}")


if __name__ == "__main__":
    main()
