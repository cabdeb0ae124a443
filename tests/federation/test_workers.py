"""A destination served by several workers on one PostgreSQL database, taking the
batches an origin keeps in flight: each worker holds its own turns, so a batch can
reach one worker before the batch ahead of it is stored by another."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.federation.pairs import cursor, deliver, inbox_ids, make, peer, publish, sync

from vigil.errors import Conflict
from vigil.features import open_exchange
from vigil.federation import receiver
from vigil.federation.batches import build_batch
from vigil.storage import federation as q

TO = ["member:bravo@berlin"]


async def test_batches_in_flight_to_two_postgresql_workers_store_in_order(
        tmp_path: Path, pg_url: str) -> None:
    """Three batches in flight, arriving last first at two workers of berlin at once,
    then three more whose first is held back: every share is stored once, in the order
    sent. A batch is stored once the one before it is, or answered ``fed.gap`` with the
    cursor (and sent again from there, as the sender does); never out of order."""
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True}, store=pg_url)
    second = open_exchange(b.node.settings)  # another worker of berlin
    try:
        peer(a, b)
        deliver(b, a)
        deliver(a, b)
        sids = [publish(a, "alpha", TO) for _ in range(9)]
        sync(a, b)
        dest = b.ex.node_id
        after = a.ex.store.read(lambda sql: q.link(sql, dest))[1]
        batches = []
        for _ in range(3):
            batches.append(build_batch(a.ex, dest, after, 3))
            after = batches[-1]["batch"]["to"]
        athens = b.peers["athens"]
        workers = [b.ex, second, b.ex]
        got = await asyncio.gather(
            *(receiver.receive_in_turn(ex, athens, data)
              for ex, data in reversed(list(zip(workers, batches, strict=True)))),
            return_exceptions=True)
        for answer in got:
            assert isinstance(answer, receiver.Applied) or (
                isinstance(answer, Conflict) and answer.code == "fed.gap"), answer
        for _ in range(3):  # what was answered fed.gap, sent again from the cursor
            if cursor(b, a) >= after:
                break
            data = build_batch(a.ex, dest, cursor(b, a))
            receiver.receive(second, athens, data)
        assert cursor(b, a) == after
        # the first batch held back: the two after it, at either worker, wait their
        # turn in vain and are answered fed.gap with the cursor; nothing is stored
        start = after
        sids += [publish(a, "alpha", TO) for _ in range(9)]
        sync(a, b)
        batches = []
        for _ in range(3):
            batches.append(build_batch(a.ex, dest, after, 3))
            after = batches[-1]["batch"]["to"]
        early = await asyncio.gather(receiver.receive_in_turn(second, athens, batches[1]),
                                     receiver.receive_in_turn(b.ex, athens, batches[2]),
                                     return_exceptions=True)
        for answer in early:
            assert isinstance(answer, Conflict) and answer.code == "fed.gap" and \
                answer.detail["cursor"] == start, answer
        assert cursor(b, a) == start
        await receiver.receive_in_turn(second, athens, batches[0])
        while cursor(b, a) < after:
            receiver.receive(b.ex, athens, build_batch(a.ex, dest, cursor(b, a), 3))
        assert inbox_ids(b, "bravo")[-len(sids):] == sids
        assert sorted(inbox_ids(b, "bravo")) == sorted(set(inbox_ids(b, "bravo")))
        positions = [int(r[0]) for r in b.ex.store.read(lambda sql: sql.execute(
            "SELECT pos FROM inbox WHERE member_id=%s ORDER BY pos",
            (b.id("bravo"),)).fetchall())]
        assert positions == list(range(1, len(positions) + 1))
    finally:
        second.store.close()
        a.close()
        b.close()
