"""The network namespaces of the bed (``vigil.testbed.netns``): each node's addresses and
namespace names; a bed removes every namespace it made, also when its owner is terminated,
and the next bed sweeps those of an owner killed outright."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vigil.testbed.netns import (
    STALE,
    Bed,
    link_addr,
    list_netns,
    node_addr,
    service_addr,
    sweep_stale,
)


def test_a_bed_removes_its_namespaces(netns_ok: None) -> None:
    with Bed(2) as bed:
        names = bed.namespaces
        assert set(names) <= set(list_netns())
    assert not set(names) & set(list_netns())


ORPHAN = """
import os, sys, time
from vigil.testbed.netns import Bed
bed = Bed(2).up()
print(" ".join(bed.namespaces), flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_a_bed_whose_owner_dies_is_removed(netns_ok: None, tmp_path: Path, sig: str) -> None:
    proc = subprocess.Popen([sys.executable, "-c", ORPHAN], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        names = proc.stdout.readline().split()
        assert names and set(names) <= set(list_netns())
        proc.send_signal(getattr(__import__("signal"), sig))
        proc.wait(30)
        if sig == "SIGKILL":  # no handler can run: the next bed sweeps it
            assert set(names) <= set(list_netns())
            assert set(names) <= set(sweep_stale())
        assert not set(names) & set(list_netns())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_names_and_addresses() -> None:
    bed = Bed(3)  # not brought up: names only
    assert bed.node(1) == f"{bed.tag}-n1" and bed.tag.startswith(f"vb{os.getpid()}x")
    assert bed.namespaces == [bed.router, bed.client, *(bed.node(i) for i in (1, 2, 3))]
    assert STALE.match(bed.node(2)).group(1) == str(os.getpid())  # type: ignore[union-attr]
    with pytest.raises(IndexError):
        bed.node(4)
    with pytest.raises(ValueError):
        Bed(51)
    assert (node_addr(4), link_addr(4), service_addr(4)) == (
        "10.201.4.2",
        "10.201.4.1",
        "10.201.100.4",
    )
    assert bed.command(bed.node(1), ["true"]) == ["ip", "netns", "exec", bed.node(1), "true"]
