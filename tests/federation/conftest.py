"""Two nodes that federate without a server (``tests.federation.pairs``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.federation.pairs import Node, network


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    """athens (alpha) and berlin (bravo, bravo2), peered, each having taken the other's
    first batch."""
    with network(tmp_path, {"athens": {"alpha": True},
                            "berlin": {"bravo": True, "bravo2": True}}) as (a, b):
        yield a, b
