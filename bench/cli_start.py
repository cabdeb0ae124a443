"""What starting the command line costs: CPU seconds per ``vigil`` call, this tree beside
another source tree (the baseline), alternating calls so that load hits both alike.

    git archive main src | tar -x -C /tmp/base
    python -m bench.cli_start --base /tmp/base/src --runs 20

Each call is a new ``python -m vigil.cli ARGS`` process; the figure is the CPU time
(user + system) the process used, its median over the runs, per command and per tree.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, save

COMMANDS = (["--help"], ["--version"], ["user", "--help"], ["log", "--help"])


def cpu_of(src: Path, args: list[str]) -> float:
    """CPU seconds of one ``vigil ARGS`` process run from the source tree ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "vigil.cli", *args], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the baseline's src directory")
    ap.add_argument("--runs", type=int, default=20)
    a = ap.parse_args()
    trees = {"base": a.base.resolve(), "this": ROOT / "src"}
    rows = {}
    for args in COMMANDS:
        times: dict[str, list[float]] = {k: [] for k in trees}
        for _ in range(a.runs):
            for name, src in trees.items():
                times[name].append(cpu_of(src, args))
        med = {k: statistics.median(v) for k, v in times.items()}
        label = "vigil " + " ".join(args)
        rows[label] = {**{f"{k}_cpu_s": round(v, 3) for k, v in med.items()},
                       "ratio": round(med["this"] / med["base"], 2)}
        print(f"{label:22} base {med['base']:.3f} s  this {med['this']:.3f} s  "
              f"ratio {med['this'] / med['base']:.2f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")
    save("cli_start", {"runs": a.runs, "commands": rows, "load": os.getloadavg()[0]})


if __name__ == "__main__":
    main()
