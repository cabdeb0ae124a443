"""MISP import: events and attributes per second, one thread.

    python -m bench.interop                       # the events in tests/data/misp
    python -m bench.interop --events DIR --rounds 3 --json

Each round converts every MISP event (misp-stix MISP -> STIX 2.1, vigil's validation of
every object, references resolved) and publishes it as one share on a SQLite node
(policy, signing, storing, fan-out): ``vigil.interop.misp_exchange.import_events``, what
``POST /api/v1/import/misp`` runs. Conversion alone is timed too. The first round also
pays misp-stix's start-up and is not counted.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from vigil.interop.misp import convert, events_of
from vigil.interop.misp_exchange import import_events
from vigil.model import Actor
from vigil.testing import make_node

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "misp"


def attributes(event: dict[str, Any]) -> int:
    ev = event["Event"]
    return len(ev.get("Attribute") or ()) + sum(len(o.get("Attribute") or ())
                                                 for o in ev.get("Object") or ())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=Path, default=DATA)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logging.getLogger("misp_stix_converter").setLevel(logging.ERROR)
    events = []
    for f in sorted(args.events.glob("*.json")):
        try:
            events += events_of(json.loads(f.read_text("utf-8")))
        except Exception:  # not an event (e.g. a sharing-group list)
            continue
    n_attr = sum(attributes(e) for e in events)
    for e in events:  # start-up, not counted
        convert(e, to=())
    t, c = time.perf_counter(), time.process_time()
    for _ in range(args.rounds):
        for e in events:
            convert(e, to=())
    conv, conv_cpu = time.perf_counter() - t, time.process_time() - c
    with tempfile.TemporaryDirectory() as tmp:
        node = make_node(Path(tmp) / "node", {"alpha": True, "bravo": True})
        ex = node.exchange()
        actor = Actor(node.members["alpha"].id, "bench")
        t, c = time.perf_counter(), time.process_time()
        for _ in range(args.rounds):
            import_events(ex, actor, events, to=["community"], tlp="clear")
        full, full_cpu = time.perf_counter() - t, time.process_time() - c
        ex.store.close()
    k = args.rounds
    out = {"events": len(events), "attributes": n_attr, "rounds": k,
           "convert_events_per_s": round(k * len(events) / conv, 1),
           "convert_attributes_per_s": round(k * n_attr / conv, 1),
           "import_events_per_s": round(k * len(events) / full, 1),
           "import_attributes_per_s": round(k * n_attr / full, 1),
           # per second of this process's CPU: what the figures are on a machine
           # whose cores other programs share
           "convert_attributes_per_cpu_s": round(k * n_attr / conv_cpu, 1),
           "import_attributes_per_cpu_s": round(k * n_attr / full_cpu, 1)}
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
