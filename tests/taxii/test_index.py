"""The object index on both stores: written with each share, served by keyset pages,
backfilled for shares stored before it, dropped with a purged payload, and a share a
read gate held back moves to the end of the collection when it is let through."""

from __future__ import annotations

from unittest import mock

from tests.taxii.conftest import Holds, many_objects, publish, read_all

from vigil import clock
from vigil.model import Actor, Tlp
from vigil.node.exchange import Exchange
from vigil.taxii import index
from vigil.taxii.query import Query
from vigil.taxii.view import ExchangeSource
from vigil.testing import TestNode


def test_pages_through_many_shares(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(1200)
    for i in range(0, 1200, 150):
        publish(ex, a, objects[i:i + 150])
    src = ExchangeSource(ex)
    assert read_all(src, b, 97) == [o["id"] for o in objects]
    assert read_all(src, b, 1000, types=("relationship",)) == \
        [o["id"] for o in objects if o["type"] == "relationship"]
    rows = ex.store.read(lambda sql: sql.execute(
        "SELECT count(*) FROM taxii_objects").fetchone()[0])
    assert rows == 1200


def test_backfill_indexes_shares_stored_before(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    a, b = n.members["alpha"].id, n.members["bravo"].id
    hooks = list(ex.share_tx_hooks)
    ex.share_tx_hooks[:] = [h for h in hooks if h is not index.index_share]
    objects = many_objects(40)
    publish(ex, a, objects[:20])
    publish(ex, a, objects[20:], Tlp.AMBER, ["a-b"])  # sealed
    gone = publish(ex, a, many_objects(45)[40:])
    ex.store.write(lambda sql: sql.execute(  # purged: its payload is gone
        "UPDATE shares SET purged = ?, payload = NULL WHERE id = ?", (True, gone)))
    ex.share_tx_hooks[:] = hooks
    assert ex.store.read(lambda sql: sql.execute(
        "SELECT count(*) FROM taxii_shares").fetchone()[0]) == 0
    assert index.backfill(ex.store) == 3
    assert read_all(ExchangeSource(ex), b, 7) == [o["id"] for o in objects]
    assert index.backfill(ex.store) == 0


def test_purge_drops_the_index_copies(node: tuple[TestNode, Exchange]) -> None:
    n, ex = node
    a = n.members["alpha"].id
    sid = publish(ex, a, many_objects(5))
    ex.store.write(lambda sql: [hook(sql, sid) for hook in ex.purge_tx_hooks])
    assert ex.store.read(lambda sql: sql.execute(
        "SELECT count(*) FROM taxii_objects").fetchone()[0]) == 0


def test_a_held_share_moves_to_the_end_when_let_through(node: tuple[TestNode, Exchange]
                                                        ) -> None:
    n, ex = node
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(30)
    held = publish(ex, a, objects[:10])
    publish(ex, a, objects[10:20])
    gate = Holds(ex)
    gate.held[(b, held)] = "2999-01-01T00:00:00.000Z"
    ex.read_gate = gate
    src = ExchangeSource(ex)
    coll = src.collections(Actor(b))[0]
    page = src.page(Actor(b), coll, Query(limit=15))
    assert [i.id for i in page.items] == [o["id"] for o in objects[10:20]]
    last_added = page.items[-1].added
    with mock.patch.object(clock, "now", lambda: "2999-01-01T00:00:00.001Z"):
        page = src.page(Actor(b), coll, Query(limit=100, added_after=last_added))
    # after the share it was held behind, added when it was let through
    assert [i.id for i in page.items] == [o["id"] for o in objects[:10]]
    assert page.items[0].added == "2999-01-01T00:00:00.001Z"
