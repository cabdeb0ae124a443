"""Shared helpers for the benchmarks: real IOC lists, percentiles, result files."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from vigil.interop.iocs import Ioc, read_abusech

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIGIL_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEMO = ROOT / "src" / "vigil" / "data" / "demo"
RESULTS = ROOT / "bench" / "results"


def real_iocs() -> list[Ioc]:
    """Every IOC of the abuse.ch dumps in shared/data/iocs (falls back to the demo samples)."""
    files = sorted((SHARED / "iocs").glob("abusech-*.csv*")) if SHARED.is_dir() else []
    if not files:
        files = sorted(DEMO.glob("abusech-*.csv"))
    out: list[Ioc] = []
    for f in files:
        out.extend(read_abusech(f))
    return out


def variant(ioc: Ioc, lap: int, k: int) -> str:
    """A distinct value of the same kind, derived from a real one."""
    if ioc.kind == "file-hash":
        return hashlib.new(ioc.hash_alg.replace("-", "").lower() if ioc.hash_alg else "sha256",
                           f"{ioc.value}/{lap}".encode()).hexdigest()
    if ioc.kind == "url":
        return f"{ioc.value}{'&' if '?' in ioc.value else '?'}v={lap}"
    if ioc.kind == "domain-name":
        return f"v{lap}.{ioc.value}"
    return f"10.{lap % 250}.{(k // 250) % 250}.{k % 250}"


def cycle_chunks(items: Sequence[Ioc], size: int, count: int) -> Iterator[list[Ioc]]:
    """`count` chunks of `size` IOCs; a value repeats only after the whole list is used.
    Repeated values get a distinct suffix so that every indicator is new."""
    n = len(items)
    for c in range(count):
        chunk = []
        for i in range(size):
            k = c * size + i
            ioc = items[k % n]
            lap = k // n
            if lap:
                ioc = Ioc(ioc.kind, variant(ioc, lap, k), ioc.hash_alg, ioc.malware,
                          ioc.first_seen, ioc.confidence, ioc.source)
            chunk.append(ioc)
        yield chunk


def pct(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50": pct(values, 50), "p99": pct(values, 99),
            "mean": statistics.fmean(values) if values else float("nan"), "max": max(values)}


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"bench": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
              **result}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
