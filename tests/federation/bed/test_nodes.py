"""The bed's nodes and its whole (``vigil.testbed.nodes``), on a bed of two without
servers: each node's address for its clients and, through the proxy, for its peers, its
command line and environment; isolating a node holds what the proxy would forward to it
until healed; closing the bed ends the proxy and removes every namespace."""

from __future__ import annotations

import sys
from pathlib import Path

from vigil.testbed.netns import list_netns
from vigil.testbed.nodes import PORT, Testbed


def test_a_bed_of_two(netns_ok: None, tmp_path: Path) -> None:
    tb = Testbed(2, tmp_path, seed=3)
    try:
        names = tb.bed.namespaces
        assert set(names) <= set(list_netns()) and tb.n == 2
        n2 = tb.node(2, tmp_path / "n2", args=["--workers", "1"], env={"VIGIL_X": "1"})
        assert tb.nodes == {2: n2} and not n2.running
        assert n2.url == f"http://10.201.2.2:{PORT}"
        assert n2.peer_url == f"http://10.201.100.2:{PORT}"
        assert n2.ns == tb.bed.node(2)
        assert n2.argv()[:5] == [sys.executable, "-m", "vigil.cli", "--data", str(tmp_path / "n2")]
        assert n2.argv()[-2:] == ["--workers", "1"]
        assert n2.env["VIGIL_LOG_LEVEL"] == "warning" and n2.env["VIGIL_X"] == "1"
        tb.isolate(2)
        assert [tuple(x) for x in tb.proxy.stats()["held"]] == [(1, 2)]
        assert 2 in tb.bed.isolated
        tb.heal()
        assert tb.proxy.stats()["held"] == [] and not tb.bed.isolated
        proxy = tb.proxy_proc
    finally:
        tb.close()
    assert proxy is not None and proxy.poll() is not None
    assert not set(names) & set(list_netns())
