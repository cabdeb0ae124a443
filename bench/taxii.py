"""TAXII 2.1: vigil's server side by side with a real medallion server (memory backend).

    python -m bench.taxii --json                   # 50,000 objects; medallion at 3,000
    python -m bench.taxii --objects 0 --deep 1000000 --json  # the deep-page check alone

Objects are real abuse.ch IOCs as STIX 2.1 indicators (bench.common). Both servers run
in their own process on a loopback port; the client is httpx in this process.

* ingest: POST envelopes of 1,000 objects to an empty writable collection (vigil:
  ``publish-community-green``, a plain share to every member, the member's keys held by
  the node so it signs), one after another, until it holds ``--objects``; objects per
  second of wall time.
* paging: GET every object of a collection holding ``--objects`` objects, ``limit=1000``,
  following ``next``; objects per second of wall time, and per CPU second of the
  server process (from /proc). medallion's first GET is quadratic in the collection
  size (hours at 50,000), so both servers also page through ``--small`` objects side by
  side (medallion loaded from its data file), medallion again at half that, and its
  time at ``--objects`` is extrapolated from the two (the exponent is printed); the
  pages after medallion's first (served from its cached result) are reported apart.
* deep (``--deep N``, in process, no HTTP): a node's index filled with N objects in
  shares of 1,000; the time of the first page and of a page 99% deep (limit 1,000),
  median of 20 each.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import medallion
from bench.common import cycle_chunks, real_iocs, save, summary
from vigil.interop.iocs import indicator
from vigil.model import Actor, Tlp
from vigil.taxii.query import Cursor, Query
from vigil.taxii.view import ExchangeSource
from vigil.testing import ServerProcess, make_node

TAXII = medallion.TAXII
USER, PASSWORD = medallion.USER, medallion.PASSWORD
COLLECTION = str(uuid.uuid4())
ENVELOPE = 1000


def objects_of(n: int) -> list[dict[str, Any]]:
    """``n`` indicators with distinct ids: a value listed twice in the dumps would be
    one object (or two versions of it) to a TAXII server."""
    out: dict[str, dict[str, Any]] = {}
    chunks = (n + 999) // 1000 + 2
    for chunk in cycle_chunks(real_iocs(), 1000, chunks):
        for ioc in chunk:
            obj = indicator(ioc)
            out.setdefault(obj["id"], obj)
    objects = list(out.values())[:n]
    assert len(objects) == n
    return objects


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- medallion -----------------------------------------------------------------------------

def start_medallion(work: Path, objects: list[dict[str, Any]]) -> tuple[
        subprocess.Popen[bytes], str]:
    proc, root = medallion.start(work, [medallion.collection(COLLECTION, objects)], page=1000)
    return proc, f"{root}collections/{COLLECTION}/"


# -- the two measurements, on any TAXII 2.1 collection --------------------------------------

def ingest(client: httpx.Client, url: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    headers = {"Accept": TAXII, "Content-Type": TAXII}
    warm = {**indicator(real_iocs()[0]), "id": f"indicator--{uuid.uuid4()}"}  # one object
    # first: connections, caches, imports
    r = client.post(url + "objects/", content=orjson.dumps({"objects": [warm]}),
                    headers=headers, timeout=600)
    assert r.status_code == 202, r.text
    times = []
    t0 = time.perf_counter()
    for i in range(0, len(objects), ENVELOPE):
        body = orjson.dumps({"objects": objects[i:i + ENVELOPE]})
        t = time.perf_counter()
        r = client.post(url + "objects/", content=body, headers=headers, timeout=600)
        times.append(time.perf_counter() - t)
        assert r.status_code == 202, r.text
        st = r.json()
        assert st["success_count"] == len(objects[i:i + ENVELOPE]), st
    total = time.perf_counter() - t0
    return {"objects": len(objects), "envelopes": len(times), "seconds": total,
            "envelope_s": summary(times),
            "objects_per_s": len(objects) / total,
            "first_envelope_s": times[0], "last_envelope_s": times[-1]}


def page_all(client: httpx.Client, url: str, pid: int, expect: int) -> dict[str, Any]:
    headers = {"Accept": TAXII}
    n = 0
    times: list[float] = []
    nxt: str | None = None
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    while True:
        params: dict[str, Any] = {"limit": 1000}
        if nxt:
            params["next"] = nxt
        t = time.perf_counter()
        r = client.get(url + "objects/", params=params, headers=headers, timeout=3600)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
        doc = orjson.loads(r.content)
        n += len(doc.get("objects", []))
        if not doc.get("more"):
            break
        nxt = doc["next"]
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    assert n == expect, (n, expect)
    rest = sum(times[1:])
    return {"objects": n, "pages": len(times), "seconds": wall, "objects_per_s": n / wall,
            "first_page_s": times[0],
            "later_pages_objects_per_s": (n - 1000) / rest if rest else float("nan"),
            "server_cpu_s": cpu, "objects_per_cpu_s": n / cpu if cpu else float("nan")}


# -- vigil -------------------------------------------------------------------------------

def vigil_node(work: Path, name: str) -> tuple[Any, ServerProcess, str]:
    node = make_node(work / name, {"alpha": True, "bravo": True, "charlie": False,
                                   "delta": False})
    srv = ServerProcess(node.data).start()
    return node, srv, srv.url


def vigil_collection(client: httpx.Client, url: str, alias: str) -> str:
    r = client.get(f"{url}/taxii2/api/collections/", headers={"Accept": TAXII})
    for c in r.json()["collections"]:
        if c["alias"] == alias:
            return f"{url}/taxii2/api/collections/{c['id']}/"
    raise KeyError(alias)


def deep(work: Path, n: int) -> dict[str, Any]:
    node = make_node(work / "deep", {"alpha": True, "bravo": True})
    ex = node.exchange()
    a, b = node.members["alpha"].id, node.members["bravo"].id
    req = ex.make_request(a, tlp=Tlp.GREEN)
    t0 = time.perf_counter()
    for chunk in cycle_chunks(real_iocs(), 1000, n // 1000):
        raw = orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                            "objects": [indicator(i) for i in chunk]})
        ex.publish_bundle(Actor(a), raw, req)
    fill = time.perf_counter() - t0
    src = ExchangeSource(ex)
    coll = src.collections(Actor(b))[0]
    row = ex.store.read(lambda sql: sql.execute(
        "SELECT pos FROM inbox WHERE member_id = ? ORDER BY pos "
        "LIMIT 1 OFFSET ?", (b, max(0, int(n / 1000 * 0.99) - 2))).fetchone())
    where = Cursor(int(row[0]), 0)

    def timed(cursor: Cursor | None) -> float:
        out = []
        for _ in range(20):
            t = time.perf_counter()
            page = src.page(Actor(b), coll, Query(limit=1000, cursor=cursor))
            out.append(time.perf_counter() - t)
            assert len(page.items) == 1000
        return statistics.median(out)

    first, late = timed(None), timed(where)
    ex.store.close()
    return {"objects": n, "fill_s": fill, "first_page_s": first, "deep_page_s": late,
            "deep_over_first": late / first}


def vigil_side(work: Path, name: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    node, srv, url = vigil_node(work, name)
    try:
        with httpx.Client(auth=("alpha", node.members["alpha"].token)) as c:
            got = ingest(c, vigil_collection(c, url, "publish-community-green"), objects)
        assert srv.proc is not None
        with httpx.Client(auth=("bravo", node.members["bravo"].token)) as c:
            inbox = vigil_collection(c, url, "inbox")
            page_all(c, inbox, srv.proc.pid, len(objects) + 1)  # warm
            return {"ingest": got,
                    "paging": page_all(c, inbox, srv.proc.pid, len(objects) + 1)}
    finally:
        srv.stop()


def medallion_paging(work: Path, objects: list[dict[str, Any]]) -> dict[str, Any]:
    proc, murl = start_medallion(work, objects)
    try:
        with httpx.Client(auth=(USER, PASSWORD)) as c:
            return page_all(c, murl, proc.pid, len(objects))
    finally:
        medallion.stop(proc)


def run(n: int, small: int, n_deep: int) -> dict[str, Any]:
    out: dict[str, Any] = {"objects": n, "small": small}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if n_deep:
            out["deep"] = deep(work, n_deep)
        if not n:
            return out
        objects = objects_of(n)
        big = vigil_side(work, "big", objects)
        out["vigil_ingest"], out["vigil_paging"] = big["ingest"], big["paging"]
        proc, murl = start_medallion(work, [])
        try:
            with httpx.Client(auth=(USER, PASSWORD)) as c:
                out["medallion_ingest"] = ingest(c, murl, objects)
        finally:
            medallion.stop(proc)
        out["ingest_ratio"] = out["vigil_ingest"]["objects_per_s"] / \
            out["medallion_ingest"]["objects_per_s"]
        # medallion's first GET is quadratic in the collection size: a full pass over
        # `n` objects is out of reach, so both page through `small` and `small / 2`
        # objects side by side, and medallion's time at `n` is extrapolated from them
        half = small // 2
        out["vigil_paging_small"] = vigil_side(work, "small", objects[:small])["paging"]
        out["medallion_paging_small"] = medallion_paging(work, objects[:small])
        out["medallion_paging_half"] = medallion_paging(work, objects[:half])
        t1 = out["medallion_paging_half"]["seconds"]
        t2 = out["medallion_paging_small"]["seconds"]
        k = math.log(t2 / t1) / math.log(small / half)
        out["medallion_exponent"] = k
        out["medallion_paging_extrapolated_s"] = t2 * (n / small) ** k
        out["paging_ratio_small"] = out["vigil_paging_small"]["objects_per_s"] / \
            out["medallion_paging_small"]["objects_per_s"]
        out["paging_ratio_extrapolated"] = out["medallion_paging_extrapolated_s"] / \
            out["vigil_paging"]["seconds"]
        out["later_pages_ratio"] = out["vigil_paging"]["later_pages_objects_per_s"] / \
            out["medallion_paging_small"]["later_pages_objects_per_s"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objects", type=int, default=50_000,
                    help="objects POSTed (envelopes of 1,000) and paged through; 0: only "
                         "the deep-page check")
    ap.add_argument("--small", type=int, default=3_000,
                    help="collection size where medallion's full pass is measured")
    ap.add_argument("--deep", type=int, default=0, help="objects for the deep-page check")
    ap.add_argument("--json", action="store_true", help="write bench/results/taxii.json")
    args = ap.parse_args()
    res = run(args.objects, args.small, args.deep)
    if "deep" in res:
        d = res["deep"]
        print(f"deep page at {d['objects']:,}: first {d['first_page_s'] * 1e3:.1f} ms, "
              f"99% deep {d['deep_page_s'] * 1e3:.1f} ms ({d['deep_over_first']:.2f}x)")
    if args.json:
        print(save("taxii" if args.objects else "taxii-deep", res))
    if not args.objects:
        return
    vi, mi = res["vigil_ingest"], res["medallion_ingest"]
    vp, vs, ms = res["vigil_paging"], res["vigil_paging_small"], res["medallion_paging_small"]
    print(f"ingest {vi['objects']:,} objects in envelopes of {ENVELOPE:,} into an empty "
          f"collection: vigil {vi['objects_per_s']:,.0f}/s, medallion "
          f"{mi['objects_per_s']:,.0f}/s (its last envelope {mi['last_envelope_s']:.2f} s) "
          f"-> {res['ingest_ratio']:.1f}x")
    print(f"paging {vp['objects']:,} objects, limit 1,000: vigil {vp['seconds']:.2f} s, "
          f"{vp['objects_per_s']:,.0f}/s, {vp['objects_per_cpu_s']:,.0f} per server CPU "
          f"second; medallion (extrapolated, exponent {res['medallion_exponent']:.2f}) "
          f"{res['medallion_paging_extrapolated_s']:,.0f} s -> "
          f"{res['paging_ratio_extrapolated']:,.0f}x")
    print(f"paging {vs['objects']:,} objects side by side: vigil {vs['objects_per_s']:,.0f}/s, "
          f"medallion {ms['objects_per_s']:,.1f}/s (first page {ms['first_page_s']:.1f} s) "
          f"-> {res['paging_ratio_small']:,.0f}x; pages after the first: vigil "
          f"{vp['later_pages_objects_per_s']:,.0f}/s, medallion "
          f"{ms['later_pages_objects_per_s']:,.0f}/s -> {res['later_pages_ratio']:.1f}x")


if __name__ == "__main__":
    main()
