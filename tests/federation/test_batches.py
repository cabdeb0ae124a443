"""The messages a link sends, built from the store: batches of consecutive outbox rows,
and the sizes of a round's batches."""

from __future__ import annotations

import pytest
from tests.federation.pairs import Node, publish

from vigil.errors import Conflict
from vigil.federation import receiver
from vigil.federation.batches import BATCH, FIRST, build_batch, grown
from vigil.storage import federation as q


def test_a_round_s_batches_double_up_to_the_batch_size() -> None:
    sizes = [FIRST]
    while sizes[-1] < BATCH:
        sizes.append(grown(sizes[-1]))
    assert sizes == [25, 50, 100, 200, 400, 500]
    assert grown(BATCH) == BATCH


def test_a_hole_in_the_outbox_ends_the_batch_before_it(pair: tuple[Node, Node]) -> None:
    """A row missing from the outbox (a withholding origin) never sits inside a batch
    (which the destination would refuse whole as malformed): the batch stops before it,
    and the next one starts at it, where the destination sees the gap."""
    a, b = pair
    for _ in range(5):
        publish(a, "alpha", ["member:bravo@berlin"])
    dest = b.ex.node_id
    acked = a.ex.store.read(lambda sql: q.link(sql, dest))[1]
    rows = a.ex.store.read(lambda sql: q.pending(sql, dest, acked, 100))
    hole = rows[2][0]
    a.ex.store.write(lambda sql: sql.execute(
        "DELETE FROM fed_outbox WHERE dest=? AND dseq=?", (dest, hole)))
    first = build_batch(a.ex, dest, acked)
    assert [i["dseq"] for i in first["batch"]["items"]] == [acked + 1, acked + 2]
    got = receiver.receive(b.ex, b.peers["athens"], first)
    assert int(got.ack["ack"]["cursor"]) == hole - 1
    with pytest.raises(Conflict) as e:
        receiver.receive(b.ex, b.peers["athens"], build_batch(a.ex, dest, hole - 1))
    assert e.value.code == "fed.gap"
