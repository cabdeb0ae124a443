"""Speed of strictjson + STIX validation.

    python -m tests.stix.bench_stix            # 1,000-indicator bundle, plus ATT&CK if present

Times are CPU time of this process (``time.process_time``), best of N runs, so other
load on the machine inflates them less than wall-clock time would.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from typing import Any

from vigil.stix import strictjson
from vigil.stix.validate import validate_bundle

from .conftest import make_bundle
from .corpus import SHARED


def best(fn: Callable[[], Any], runs: int = 30) -> float:
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    doc = make_bundle(1000)
    raw = json.dumps(doc, indent=2).encode()
    print(f"1,000 indicators, {len(raw) / 1024:.0f} KiB of JSON (indent=2):")
    t_json = best(lambda: json.loads(raw))
    t_loads = best(lambda: strictjson.loads(raw))
    parsed = strictjson.loads(raw)
    t_val = best(lambda: validate_bundle(parsed))
    print(f"  json.loads (stdlib, no checks) {t_json * 1000:7.2f} ms")
    print(f"  strictjson.loads               {t_loads * 1000:7.2f} ms")
    print(f"  validate_bundle                {t_val * 1000:7.2f} ms")
    print(
        f"  both                           {(t_loads + t_val) * 1000:7.2f} ms"
        f"  -> {1000 / (t_loads + t_val):,.0f} objects/s"
    )
    for name in (
        "ics-attack-18.1.json.gz",
        "enterprise-attack-18.1.reconstructed-from-mitre-cti.json.gz",
    ):
        path = SHARED / "attack" / name
        if not path.exists():
            continue
        data = gzip.decompress(path.read_bytes())
        n = len(json.loads(data)["objects"])
        runs = 3 if n > 5000 else 10

        def parse(data: bytes = data) -> Any:
            return strictjson.loads(data, max_bytes=1 << 30)

        parsed = parse()

        def check(parsed: Any = parsed) -> Any:
            return validate_bundle(parsed)

        t_loads, t_val = best(parse, runs), best(check, runs)
        print(f"{name}: {n:,} objects, {len(data) / 2**20:.1f} MiB")
        print(
            f"  strictjson.loads {t_loads * 1000:8.1f} ms   validate_bundle {t_val * 1000:8.1f} ms"
            f"  -> {n / (t_loads + t_val):,.0f} objects/s"
        )


if __name__ == "__main__":
    main()
