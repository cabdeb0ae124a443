"""Feed pull and push against a real medallion server (memory backend), one node.

    python -m bench.feeds                  # 2,000 via medallion, 20,000 replayed
    python -m bench.feeds --objects 5000 --replayed 50000 --json

A medallion collection is loaded with real abuse.ch IOCs as STIX indicators. Then:

* fetch: the TAXII paging alone (taxii2-client against medallion), no vigil work;
* pull: ``vigil feed pull`` as a function: fetch, validate every object, drop seen
  versions, publish bundles of 500 as a member whose keys the node holds, to a channel
  of 5 members (sealed), cursor and seen-versions in SQLite;
* re-pull: the same feed again from a reset cursor (every object is already seen);
* push: the channel's shares back to an empty medallion collection (add_objects +
  status);
* replayed pull: vigil's own part of a pull alone: pages held in memory (as fetched)
  are checked, de-duplicated and published, with no server in the loop.

Figures are objects per second of wall time; medallion runs in its own process on the
same machine, so each figure includes its share of the work.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import medallion
from bench.common import cycle_chunks, real_iocs, save
from vigil.feeds import registry
from vigil.feeds.pull import pull_claimed
from vigil.feeds.push import push
from vigil.feeds.registry import Auth, Feed
from vigil.feeds.remote import Page, RemoteCollection
from vigil.interop.iocs import indicator
from vigil.model import ChannelKind
from vigil.testing import make_node

USER, PASSWORD = medallion.USER, medallion.PASSWORD
SOURCE, TARGET = str(uuid.uuid4()), str(uuid.uuid4())


class Replay:
    """Pages already fetched, served from memory in place of a TAXII server."""

    def __init__(self, objects: list[dict[str, Any]], page: int) -> None:
        self.objects, self.page = objects, page

    def __enter__(self) -> Replay:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def pages(self, added_after: str | None, per_request: int) -> Any:
        for i in range(0, len(self.objects), self.page):
            yield Page(self.objects[i:i + self.page], "2024-01-01T00:00:00.000000Z")


def replayed(work: Path, n: int, page: int) -> dict[str, Any]:
    objects = [indicator(i) for chunk in cycle_chunks(real_iocs(), 1000, (n + 999) // 1000)
               for i in chunk][:n]
    node = make_node(work / "replay", {"origin": True} | {f"r{i}": True for i in range(5)})
    ex = node.exchange()
    ex.create_channel(node.members["origin"].id, "bench", ChannelKind.GROUP,
                      [m.id for k, m in node.members.items() if k != "origin"])
    registry.add_feed(ex.store, Feed("replay", "http://replay.invalid/", "c",
                                     node.members["origin"].id, "green", ("bench",), 3600,
                                     Auth()))
    t = time.perf_counter()
    r = pull_claimed(ex, "replay", remote=lambda f: Replay(objects, page))  # type: ignore[arg-type,return-value]
    s = time.perf_counter() - t
    ex.store.close()
    return {"seconds": s, "objects_per_s": r.fetched / s, "published": r.published,
            "shares": r.shares, "duplicates": r.duplicates, "rejected": r.rejected}


def run(n: int, page: int, n_replayed: int) -> dict[str, Any]:
    iocs = real_iocs()
    objects = [indicator(i) for chunk in cycle_chunks(iocs, 1000, (n + 999) // 1000)
               for i in chunk][:n]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, root = medallion.start(work, [medallion.collection(SOURCE, objects),
                                            medallion.collection(TARGET, [])], page=page)
        try:
            auth = Auth(USER, PASSWORD)
            t = time.perf_counter()
            fetched = 0
            with RemoteCollection(registry.collection_url(root, SOURCE), auth) as coll:
                for p in coll.pages(None, page):
                    fetched += len(p.objects)
            fetch_s = time.perf_counter() - t

            names = {"origin": True} | {f"r{i}": True for i in range(5)}
            node = make_node(work / "node", names)
            ex = node.exchange()
            ex.create_channel(node.members["origin"].id, "bench", ChannelKind.GROUP,
                              [m.id for k, m in node.members.items() if k != "origin"])
            registry.add_feed(ex.store, Feed("bench", root, SOURCE, node.members["origin"].id,
                                             "green", ("bench",), 3600, auth))
            t = time.perf_counter()
            r1 = pull_claimed(ex, "bench")
            pull_s = time.perf_counter() - t
            ex.store.write(lambda sql: sql.execute("UPDATE feeds SET cursor = NULL"))
            t = time.perf_counter()
            r2 = pull_claimed(ex, "bench")
            repull_s = time.perf_counter() - t
            t = time.perf_counter()
            pr = push(ex, "r0", "bench", root, TARGET, auth,
                      batch=page, poll_interval=0.05)
            push_s = time.perf_counter() - t
            ex.store.close()
        finally:
            medallion.stop(proc)
        rep = replayed(work, n_replayed, page)
    return {
        "objects": n, "page": page,
        "fetch": {"seconds": fetch_s, "objects_per_s": fetched / fetch_s},
        "pull": {"seconds": pull_s, "objects_per_s": r1.fetched / pull_s,
                 "published": r1.published, "shares": r1.shares, "rejected": r1.rejected},
        "repull": {"seconds": repull_s, "objects_per_s": r2.fetched / repull_s,
                   "published": r2.published, "duplicates": r2.duplicates},
        "push": {"seconds": push_s, "objects_per_s": pr.sent / push_s,
                 "added": pr.success, "failed": pr.failure},
        "replayed_pull": dict(rep, objects=n_replayed),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--objects", type=int, default=2_000,
                    help="objects served by medallion (its paging is slow: keep it small)")
    ap.add_argument("--replayed", type=int, default=20_000,
                    help="objects of the replayed pull (vigil's part alone)")
    ap.add_argument("--page", type=int, default=1000)
    ap.add_argument("--json", action="store_true", help="write bench/results/feeds.json")
    a = ap.parse_args()
    result = run(a.objects, a.page, a.replayed)
    for k in ("fetch", "pull", "repull", "push", "replayed_pull"):
        v = result[k]
        print(f"{k:<7} {v['seconds']:8.2f} s  {v['objects_per_s']:10,.0f} objects/s  "
              + " ".join(f"{x}={y}" for x, y in v.items() if x not in ("seconds",
                                                                          "objects_per_s")))
    if a.json:
        print(save("feeds", result))


if __name__ == "__main__":
    main()
