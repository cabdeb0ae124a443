"""The reads of the node's health views, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from tests.analysis.helpers import publish

from vigil import testing
from vigil.node.exchange import Exchange
from vigil.storage import health
from vigil.testing.stix import ioc_bundle


def test_an_empty_node_and_one_that_took_a_share(
        four_members: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = four_members
    before = ex.store.read(lambda sql: (health.last_share_seq(sql), health.log_size(sql)))
    assert ex.store.read(health.newest_inbox_time) is None
    published = publish(ex, n.members["alpha"].id, ioc_bundle("198.51.100.7"),
                        to=("group1",))
    seq, size = ex.store.read(lambda sql: (health.last_share_seq(sql), health.log_size(sql)))
    assert seq > before[0] and size > before[1] > 0  # the members' and channels' entries
    assert size == ex.store.read(lambda sql: int(sql.execute(
        "SELECT count(*) FROM log_leaves").fetchone()[0]))  # leaves 0 .. size-1
    assert seq == ex.store.read(lambda sql: int(sql.execute(
        "SELECT seq FROM shares WHERE id=?", (published.envelope.id,)).fetchone()[0]))
    newest = ex.store.read(health.newest_inbox_time)
    assert newest is not None and newest >= published.envelope.created[:19]


def test_the_database_clock_is_the_servers(
        four_members: tuple[testing.TestNode, Exchange]) -> None:
    _, ex = four_members
    got = ex.store.read(health.database_clock)
    if ex.store.read(lambda sql: sql.dialect) == "postgresql":
        assert got is not None and abs(got - time.time()) < 60
    else:
        assert got is None  # an embedded store has no clock of its own
