from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import four_member_exchange

from vigil.node.exchange import Exchange
from vigil.testing import TestNode


@pytest.fixture
def four(tmp_path: Path) -> Iterator[tuple[TestNode, Exchange]]:
    """A node with alpha, bravo, charlie (keys held), delta (client keys) and the
    channels a-b, group1 and everyone (``tests.conftest.four_member_exchange``)."""
    node, ex = four_member_exchange(tmp_path / "node")
    try:
        yield node, ex
    finally:
        ex.store.close()
