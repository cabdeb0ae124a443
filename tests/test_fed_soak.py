"""The federation soak (``python -m bench.fed_trust``, docs/benchmarks.md), shortened:
three ``vigil serve`` processes, a node frozen and thawed, every acknowledged share in
the recipient's inbox exactly once, read back by pages, and the memory figures."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bench.fed_soak import Node, memory_figures, soak

pytestmark = pytest.mark.slow


def test_a_short_soak_loses_nothing_and_reports_memory(tmp_path: Path) -> None:
    out = asyncio.run(soak(3, 12.0, 4.0, 4.0, tmp_path, warmup=5.0, sample=5))
    assert out["published"] >= 20 and out["not_acknowledged"] == 0, out
    assert out["lost"] == 0 and out["duplicated"] == 0, out
    assert out["cuts"] >= 1, out  # a node was frozen and came back
    assert out["cursors_equal_after_heal_s"] >= 0
    rss = out["rss_mib"]
    assert set(rss) == {"athens", "berlin", "cairo", "max_growth_from_warm_pct"}
    assert all(rss[n]["start"] > 10 for n in ("athens", "berlin", "cairo"))
    end = out["memory_at_end"]["berlin"]
    assert end["anonymous"] > 0 and end["threads"] >= 2 and end["fds"] >= 3


def test_growth_is_end_over_the_first_sample_after_warm_up() -> None:
    n = Node.__new__(Node)
    n.name, n.restarted = "a", False
    n.rss = [(0.0, 100.0), (5.0, 150.0), (10.0, 160.0), (15.0, 176.0)]
    r = Node.__new__(Node)
    r.name, r.restarted = "r", True  # restarted: its growth is not the soak's
    r.rss = [(0.0, 100.0), (10.0, 100.0), (15.0, 900.0)]
    got = memory_figures([n, r], warmup=10.0)
    assert got["a"]["warm"] == 160.0 and got["a"]["growth_from_warm_pct"] == 10.0
    assert got["a"]["growth_from_start_pct"] == 76.0 and got["a"]["peak"] == 176.0
    assert got["r"]["restarted"] and got["max_growth_from_warm_pct"] == 10.0
