"""What an operator reads of each peer link: state, cursors both ways, backlog."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from tests.federation.pairs import network, publish, sync

from vigil.federation.status import status


def test_each_link_as_the_operator_reads_it(tmp_path: Path) -> None:
    with network(tmp_path, {"athens": {"alpha": True}, "berlin": {"bravo": True}}) as (a, b):
        got = status(a.ex)
        assert got["node"] == a.ex.node_id and got["alarms"] == [] and got["refused"] is None
        (link,) = got["peers"]
        assert (link["peer"], link["node"]) == ("berlin", b.ex.node_id)
        assert link["sent"]["backlog"] == link["sent"]["head"] - link["sent"]["acked"] == 0
        assert link["quarantined"] == [] and link["fork_alarm"] is None
        assert link["received"]["behind"] == 0
        publish(a, "alpha", ["member:bravo@berlin"])
        sync(a, b)
        after = status(a.ex)["peers"][0]
        assert after["sent"]["head"] > after["sent"]["acked"]
        assert after["sent"]["backlog"] == after["sent"]["head"] - after["sent"]["acked"] > 0
        assert after["sent"]["lag"] is not None and after["sent"]["lag"] >= 0
        live = SimpleNamespace(links={b.ex.node_id: SimpleNamespace(state="backoff",
                                                                    error="refused")},
                               refused=None)
        seen = status(a.ex, live)["peers"][0]
        assert (seen["state"], seen["error"]) == ("backoff", "refused")  # the live link's
