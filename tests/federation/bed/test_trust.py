"""Federation trust on the network-namespace bed: a split view is found by the witness it
is shown to, its evidence reaches every honest node, and the forking node's new items
are refused there (vigil.testbed.trust). Generous waits, no timing asserts."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
from tests.federation.nodes import wait_for

from vigil.testbed.federation import Federation
from vigil.testbed.nodes import Testbed
from vigil.testbed.trust import Forker, alarmed, evidence, refused


@pytest.fixture(scope="module")
def fed3(netns_ok: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Three nodes n1..n3, one member each, peered in a full mesh."""
    pytest.importorskip("vigil.federation", reason="the federation core is not in this tree")
    work: Path = tmp_path_factory.mktemp("trust")
    tb = Testbed(3, work, seed=17)
    try:
        fed = Federation(tb, work, {1: ["a"], 2: ["b"], 3: ["c"]}).setup(cli_pairs=())
        fed.wait_directories()
        yield fed
    finally:
        tb.close()


def test_split_view_found_spread_and_refused(fed3: Federation, tmp_path: Path) -> None:
    forker = Forker(fed3, 3, tmp_path)  # n3 shows n2 a second history
    try:
        assert not alarmed(fed3, 1, forker.node_id)
        assert not alarmed(fed3, 2, forker.node_id)
        size = wait_for(lambda: forker.show(2), 60, 0.1)
        # n2, the witness it was shown to, keeps both notes and raises the alarm
        assert alarmed(fed3, 2, forker.node_id)
        [held, shown] = evidence(fed3, 2, forker.node_id)
        assert forker.twin.checkpoint(size)[1] in (held, shown) and held != shown
        # n2's heartbeat carries the evidence to n1, which checks it itself
        wait_for(lambda: alarmed(fed3, 1, forker.node_id), 60, 0.1)
        assert sorted(evidence(fed3, 1, forker.node_id)) == sorted([held, shown])

        # n3's new items are refused at both honest nodes
        async def publish() -> str:
            async with httpx.AsyncClient(verify=False, timeout=30) as c:
                res = await fed3.publish(c, "c@n3", ["member:a@n1", "member:b@n2"],
                                         "after the fork")
                return str(res["id"])
        share = fed3.tb.client.run(publish())
        for i, member in ((1, "a@n1"), (2, "b@n2")):
            wait_for(partial(refused, fed3, i, forker.node_id), 60, 0.1)

            async def get(member: str = member) -> int:
                async with httpx.AsyncClient(verify=False, timeout=10) as c:
                    r = await fed3.call(c, member, "GET", f"/api/v1/shares/{share}")
                    return r.status_code
            assert fed3.tb.client.run(get()) == 404
    finally:
        forker.close()
