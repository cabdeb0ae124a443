"""The node's merges of TAXII id runs (vigil.node.id_merges): a publish only adds its
run; the task merges pending runs in steps between requests, and stops when cancelled;
``merge_pending`` bounds the steps it does."""

from __future__ import annotations

import asyncio
from unittest import mock

from tests.taxii.conftest import many_objects, publish

from vigil.node import id_merges
from vigil.node.exchange import Exchange
from vigil.storage import taxii_runs
from vigil.testing import TestNode


def levels(ex: Exchange) -> list[int]:
    return [level for _, level, _ in ex.store.read(taxii_runs.runs)]


def test_merge_pending_bounds_its_steps(four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    a = n.members["alpha"].id
    objects = many_objects(2 * 12)
    with mock.patch.object(taxii_runs, "FANOUT", 2), mock.patch.object(taxii_runs, "STEP", 4):
        publish(ex, a, objects[:12])
        publish(ex, a, objects[12:])
        pg = ex.store.dialect == "postgresql"
        assert levels(ex) == ([0] if pg else [0, 0])
        assert ex.store.read(taxii_runs.pending) is not pg
        if pg:
            assert id_merges.merge_pending(ex) == 0
            return
        assert id_merges.merge_pending(ex, steps=2) == 2
        assert ex.store.read(taxii_runs.pending)
        assert levels(ex) == [0, 0]  # part way: the two runs still answer
        rest = id_merges.merge_pending(ex)
        assert rest > 0 and levels(ex) == [1]
        assert id_merges.merge_pending(ex) == 0
        assert not ex.store.read(taxii_runs.pending)


def test_the_task_merges_between_requests(four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    if ex.store.dialect == "postgresql":
        return
    a = n.members["alpha"].id
    objects = many_objects(3 * 5)

    async def main() -> list[int]:
        task = asyncio.create_task(id_merges.run(ex, interval=0.01))
        try:
            for i in range(0, len(objects), 5):
                await asyncio.to_thread(publish, ex, a, objects[i:i + 5])
            for _ in range(3000):
                if levels(ex) == [1]:
                    break
                await asyncio.sleep(0.01)
        finally:
            task.cancel()
        return levels(ex)

    with mock.patch.object(taxii_runs, "FANOUT", 3):
        assert asyncio.run(main()) == [1]
