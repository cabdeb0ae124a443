"""A node with four members on SQLite and on PostgreSQL, for the correlation tests."""

from __future__ import annotations

import pytest

from vigil import testing
from vigil.node.exchange import Exchange


@pytest.fixture
def node(four_members: tuple[testing.TestNode, Exchange]
         ) -> tuple[testing.TestNode, Exchange]:
    """The four-member node, on SQLite and on PostgreSQL in turn."""
    return four_members


def ids(n: testing.TestNode) -> dict[str, str]:
    return {k: v.id for k, v in n.members.items()}
