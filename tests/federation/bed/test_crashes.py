"""kill -9 on the bed (``vigil.testbed.crashes``), quickly, on a bed of one node: each
round kills a node outright and starts it again, and the node answers afterwards. (The
set check over acknowledged shares runs on the five-node federation:
tests/federation/bed/test_federation.py.)"""

from __future__ import annotations

import random
from pathlib import Path

from vigil.testbed.crashes import kill_rounds
from vigil.testbed.federation import Federation
from vigil.testbed.nodes import Testbed


def test_kill_rounds_kill_and_restart(netns_ok: None, tmp_path: Path) -> None:
    with Testbed(1, tmp_path) as tb:
        fed = Federation(tb, tmp_path / "fed", {1: ["a"]}).setup(peer=False)
        node = fed.nodes[1].bed
        first = node.proc
        assert node.running and first is not None
        victims = kill_rounds(fed, 2, random.Random(5), between=(0, 0.05), down=(0, 0.05))
        assert victims == [1, 1]
        assert node.running and node.proc is not first
        assert first.returncode == -9  # killed outright: no shutdown code ran
