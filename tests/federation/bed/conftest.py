"""Fixtures of the network-namespace test bed (vigil.testbed): root and `ip` needed.

Where namespaces cannot be made (not root, no `ip`, no veth) the bed's tests skip with the
reason; with VIGIL_REQUIRE_NETNS=1 (scripts/test.sh as root) they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.testbed.federation import Federation, Streams
from vigil.testbed.netns import unavailable
from vigil.testbed.nodes import Testbed
from vigil.testing import make_node

_REASON: list[str | None] = []


def netns_reason() -> str | None:
    if not _REASON:
        _REASON.append(unavailable())
    return _REASON[0]


@pytest.fixture(scope="session")
def netns_ok() -> None:
    reason = netns_reason()
    if reason is None:
        return
    message = f"network namespaces are impossible here: {reason}"
    if os.environ.get("VIGIL_REQUIRE_NETNS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def plain_bed(netns_ok: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    """Three plain (unfederated) nodes, each serving in its own namespace."""
    work: Path = tmp_path_factory.mktemp("bed")
    tb = Testbed(3, work, seed=7)
    try:
        for i in range(1, 4):
            node = make_node(work / f"n{i}", {f"m{i}": True})
            tb.node(i, node.data).start()
        yield tb
    finally:
        tb.close()


MEMBERS = ("a", "b", "c")


@pytest.fixture(scope="module")
def fed5(netns_ok: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Five federated nodes n1..n5, members a, b, c at each, peered in a full mesh, every
    member's push stream held open (``fed5.streams``)."""
    pytest.importorskip("vigil.federation", reason="the federation core is not in this tree")
    work: Path = tmp_path_factory.mktemp("fed")
    tb = Testbed(5, work, seed=11)
    streams: Streams | None = None
    try:
        fed = Federation(tb, work, {i: MEMBERS for i in range(1, 6)}).setup()
        fed.wait_directories()
        streams = Streams(fed).open(fed.addresses())
        fed.streams = streams
        yield fed
    finally:
        if streams is not None:
            streams.close()
        tb.close()
