"""The stored rows items to a peer are built from: shares as stored (none once recalled),
recalls, channels homed here and their events, the newest log leaves of a kind; on
SQLite and PostgreSQL."""

from __future__ import annotations

from tests.analysis.helpers import publish

from vigil import testing
from vigil.node import accountability
from vigil.node.exchange import Exchange
from vigil.storage import outgoing as q
from vigil.storage.base import header_bytes
from vigil.testing.stix import ioc_bundle


def test_shares_to_send_and_recalls(four_members: tuple[testing.TestNode, Exchange]
                                    ) -> None:
    n, ex = four_members
    alpha = n.members["alpha"].id
    env = publish(ex, alpha, ioc_bundle("198.51.100.7"), to=("group1",)).envelope
    header, sig, payload, _wraps = ex.store.read(lambda sql: q.share_to_send(sql, env.id))
    assert (bytes(header), bytes(sig), bytes(payload or b"")) == (
        header_bytes(env.header), env.signature, env.payload)
    assert ex.store.read(lambda sql: q.recalled_share(sql, env.id)) is None
    assert ex.store.read(lambda sql: q.share_to_send(sql, "share--none")) is None
    accountability.recall(ex, alpha, env.id)
    assert ex.store.read(lambda sql: q.share_to_send(sql, env.id)) is None
    assert ex.store.read(lambda sql: q.recalled_share(sql, env.id)) == (
        alpha, header_bytes(env.header))


def test_channels_and_leaves(four_members: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = four_members
    group = next(c for c in ex.store.directory().channels.values() if c.name == "group1")
    row = ex.store.read(lambda sql: q.channel_row(sql, group.id))
    assert (row[0], row[1], row[3]) == (group.id, "group1", n.members["alpha"].id)
    assert ex.store.read(lambda sql: q.channel_row(sql, "channel--none")) is None
    events = ex.store.read(lambda sql: q.channel_event_members(sql, group.id))
    assert set(events) == set(group.members)  # one per event: create, then the joins
    for i in range(3):
        publish(ex, n.members["alpha"].id, ioc_bundle(f"198.51.100.{i}"), to=("group1",))
    newest = ex.store.read(lambda sql: q.latest_leaves(sql, "share", 2))
    assert len(newest) == 2 and newest[0] > newest[1]
    leaf = ex.store.read(lambda sql: sql.execute(
        "SELECT idx FROM log_leaves WHERE kind=? ORDER BY idx DESC", ("share",)).fetchall())
    assert newest == [int(r[0]) for r in leaf[:2]]
    assert ex.store.read(lambda sql: q.latest_leaves(sql, "no-such-kind", 5)) == []
