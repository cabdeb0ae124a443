"""MISP import: events and attributes per second, one thread, misp-stix for every
attribute (the baseline) and the direct path for the common ones, in the same run.

    python -m bench.interop                       # the events in tests/data/misp
    python -m bench.interop --events DIR --rounds 3 --json

Each round is one request holding every MISP event, as ``POST /api/v1/import/misp``
runs it: the body parsed (``strictjson``), each event converted (MISP -> STIX 2.1,
vigil's validation of every object, references resolved) and published as one share on
a SQLite node (policy, signing, storing, TAXII index) by
``vigil.interop.misp_exchange.import_events``; ``import_*`` is the time until it
returns, that is until the shares are durable: what the caller waits for. The node's
correlation of the shares follows the answer (its thread in this process, and the
node's correlation worker process for large passes); ``correlated_*`` also counts it,
brought up to date after the last round (and before the first, so that only these
shares count). Every ``*_per_cpu_s`` counts the CPU of this process and of the
correlation worker. Conversion alone is timed too. ``misp-stix``
converts every attribute with misp-stix (``fast=False``); ``direct`` writes the plain
attributes of the common types, tagged or not (``vigil.interop.misp_fast``), and the
plain MISP objects of the common templates (``vigil.interop.misp_objects``) itself,
hands misp-stix the event's tags and galaxies and the ``file``/``pe``/``pe-section``
objects without PyMISP's load, writes the objects misp-stix builds from plain arguments
(``vigil.interop.misp_sdo``) and leaves the rest to misp-stix. Both publish each
event's bundle as written from the objects the validator passed (not validated
again). A warm-up pass of each (misp-stix's start-up) is not
counted. MISP's own import runs at 33-83 attributes/s (issue #16); ``x_misp`` divides by 83.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from vigil.analysis.correlate import installed
from vigil.interop.misp import convert, events_of
from vigil.interop.misp_exchange import import_events
from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.stix import strictjson
from vigil.testing import make_node

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "misp"
MISP_FASTEST = 83.0  # attributes/s, MISP's own import at its best (issue #16)


def attributes(event: dict[str, Any]) -> int:
    ev = event["Event"]
    return len(ev.get("Attribute") or ()) + sum(len(o.get("Attribute") or ())
                                                 for o in ev.get("Object") or ())


def _worker_cpu(ex: Exchange) -> float:
    """CPU seconds the node's correlation worker process has used so far (0 when it has
    none): large correlation passes run there (``vigil.analysis.worker``), outside this
    process's ``process_time``."""
    c = installed(ex)
    proc = getattr(getattr(c, "_worker", None), "_proc", None) if c is not None else None
    if proc is None or proc.poll() is not None:
        return 0.0
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(events: list[dict[str, Any]], rounds: int, fast: bool) -> dict[str, float]:
    n_ev, n_attr = rounds * len(events), rounds * sum(attributes(e) for e in events)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for e in events:
            convert(e, to=(), fast=fast)
    conv, conv_cpu = time.perf_counter() - t, time.process_time() - c
    body = orjson.dumps([e["Event"] for e in events])  # one request: every event
    with tempfile.TemporaryDirectory() as tmp:
        node = make_node(Path(tmp) / "node", {"alpha": True, "bravo": True})
        ex = node.exchange()
        actor = Actor(node.members["alpha"].id, "bench")
        import_events(ex, actor, events, to=["community"], tlp="clear", fast=fast)
        # the node's correlation of each share after its publish: its one-time start
        # (the worker process started, the warninglists loaded: ~0.5 s of CPU) and the
        # warm-up's shares before the clock starts
        settle = installed(ex)
        if settle is not None:
            settle.process()
        waited = waited_cpu = 0.0
        t, c, w = time.perf_counter(), time.process_time(), _worker_cpu(ex)
        for _ in range(rounds):
            # what the caller of POST /api/v1/import/misp waits for: the body parsed,
            # every event converted, validated, signed and stored, durable
            t1, c1, w1 = time.perf_counter(), time.process_time(), _worker_cpu(ex)
            reports = import_events(ex, actor, events_of(strictjson.loads(body)),
                                    to=["community"], tlp="clear", fast=fast)
            waited += time.perf_counter() - t1
            waited_cpu += time.process_time() - c1 + _worker_cpu(ex) - w1
        # then the correlation of the shares (after the answer: a thread of this
        # process, and for large passes the worker process, whose CPU is counted too)
        if settle is not None:
            settle.process()
        full = time.perf_counter() - t
        full_cpu = time.process_time() - c + _worker_cpu(ex) - w
        ex.store.close()
    assert all("share" in r or "error" in r for r in reports)
    return {"convert_events_per_s": round(n_ev / conv, 1),
            "convert_attributes_per_s": round(n_attr / conv, 1),
            "import_events_per_s": round(n_ev / waited, 1),
            "import_attributes_per_s": round(n_attr / waited, 1),
            "correlated_attributes_per_s": round(n_attr / full, 1),
            # per second of CPU (this process and the correlation worker): what the
            # figures are on a machine whose cores other programs share
            "convert_attributes_per_cpu_s": round(n_attr / conv_cpu, 1),
            "import_attributes_per_cpu_s": round(n_attr / waited_cpu, 1),
            "correlated_attributes_per_cpu_s": round(n_attr / full_cpu, 1),
            "import_events_per_cpu_s": round(n_ev / waited_cpu, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=Path, default=DATA)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    logging.getLogger("misp_stix_converter").setLevel(logging.CRITICAL)
    logging.getLogger("pymisp").setLevel(logging.CRITICAL)
    events = []
    for f in sorted(args.events.glob("*.json")):
        try:
            events += events_of(json.loads(f.read_text("utf-8")))
        except Exception:  # not an event (e.g. a sharing-group list)
            continue
    for fast in (False, True):  # start-up, not counted
        for e in events:
            convert(e, to=(), fast=fast)
    base = measure(events, args.rounds, fast=False)
    direct = measure(events, args.rounds, fast=True)
    out: dict[str, Any] = {
        "events": len(events), "attributes": sum(attributes(e) for e in events),
        "rounds": args.rounds, "load": os.getloadavg()[0],
        "misp-stix": base, "direct": direct,
        "ratio": {k: round(direct[k] / base[k], 2) for k in base},
        "x_misp": {k: round(direct[k] / MISP_FASTEST, 1) for k in direct
                   if "attributes" in k}}
    if args.json:
        print(json.dumps(out))
        return
    for key in ("events", "attributes", "rounds", "load"):
        print(f"{key:>30}: {out[key]}")
    print(f"{'':>30}  {'misp-stix':>10} {'direct':>10} {'ratio':>6} {'x MISP':>7}")
    for k in base:
        print(f"{k:>30}: {base[k]:>10} {direct[k]:>10} {out['ratio'][k]:>6} "
              f"{out['x_misp'].get(k, ''):>7}")


if __name__ == "__main__":
    main()
