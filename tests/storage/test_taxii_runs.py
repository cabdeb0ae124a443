"""The TAXII object-id index as sorted runs (vigil.storage.taxii_runs), on both stores:
each share's ids are one run, runs of a level merge into one of the next once FANOUT of
them gather, every id stays findable through every merge (by-id pages, versions, bodies,
the same answers as a scan of the object rows), and a purged share's ids leave the
index."""

from __future__ import annotations

from typing import Any
from unittest import mock

from tests.taxii.conftest import indicator, many_objects
from tests.taxii.test_taxii_index import publish, read_all

from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.storage import taxii as stored
from vigil.storage import taxii_runs
from vigil.taxii.query import Query
from vigil.taxii.view import ExchangeSource
from vigil.testing import TestNode


def entries(ex: Exchange) -> list[tuple[int, str, int, int]]:
    return [(int(r), str(o), int(s), int(p)) for r, o, s, p in ex.store.read(
        lambda sql: sql.execute("SELECT run, object_id, share_seq, pos FROM taxii_ids "
                                "ORDER BY run, object_id, share_seq, pos").fetchall())]


def object_rows(ex: Exchange) -> list[tuple[str, int, int]]:
    return sorted((str(o), int(s), int(p)) for o, s, p in ex.store.read(
        lambda sql: sql.execute("SELECT object_id, share_seq, pos FROM taxii_objects"
                                ).fetchall()))


def test_runs_merge_by_tiers_and_answer_as_before(four_members: tuple[TestNode, Exchange]
                                                  ) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(27 * 7)
    with mock.patch.object(taxii_runs, "FANOUT", 3):
        for i in range(0, len(objects), 7):
            publish(ex, a, objects[i:i + 7])
    runs = ex.store.read(taxii_runs.runs)
    pg = ex.store.dialect == "postgresql"  # one run, never merged
    # 27 shares with a fanout of 3: 27 = 1000 in base 3, one run of level 3 left
    assert [level for _, level, _ in runs] == [0 if pg else 3]
    assert runs[0][2] == len(objects)
    got = entries(ex)
    assert [(o, s, p) for _, o, s, p in got] == object_rows(ex)  # every id, sorted
    with mock.patch.object(taxii_runs, "FANOUT", 3):
        for i in range(0, 35, 7):
            publish(ex, a, many_objects(27 * 7 + 35)[27 * 7 + i:27 * 7 + i + 7])
    levels = sorted(level for _, level, _ in ex.store.read(taxii_runs.runs))
    assert levels == ([0] if pg else [0, 0, 1, 3])  # 27 + 5 shares: 1000 + 12 in base 3
    assert sorted((o, s, p) for _, o, s, p in entries(ex)) == object_rows(ex)
    src = ExchangeSource(ex)
    every = [o["id"] for o in many_objects(27 * 7 + 35)]
    # by id, across runs of every level: each object once, in collection order
    picks = every[::11]
    assert read_all(src, b, 5, ids=tuple(picks)) == picks
    coll = src.collections(Actor(b))[0]
    for oid in (every[0], every[100], every[-1]):
        page = src.page(Actor(b), coll, Query(ids=(oid,)))
        assert [i.id for i in page.items] == [oid]
    assert ex.store.read(lambda sql: stored.body_rows(sql, b, [every[3], every[-2]])) \
        and {r[0] for r in ex.store.read(
            lambda sql: stored.body_rows(sql, b, [every[3], every[-2]]))} == \
        {every[3], every[-2]}
    assert read_all(src, b, 50, ids=("indicator--00000000-0000-4000-8000-0000000000ff",)) \
        == []


def test_versions_of_one_id_in_several_runs(four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    oid = "indicator--6a1f4f0e-0000-4000-8000-000000000001"
    stamps = [f"2026-01-0{d}T00:00:00.000Z" for d in range(1, 6)]
    with mock.patch.object(taxii_runs, "FANOUT", 2):
        for at in stamps:
            publish(ex, a, [indicator(oid, at, name=f"probe {at}")])
    assert len(ex.store.read(taxii_runs.runs)) == (  # 5 = 101 in base 2
        1 if ex.store.dialect == "postgresql" else 2)
    src = ExchangeSource(ex)
    coll = src.collections(Actor(b))[0]
    versions = src.page(Actor(b), coll, Query(ids=(oid,), versions=("all",)))
    assert [i.id for i in versions.items] == [oid] * 5
    rows: list[Any] = ex.store.read(lambda sql: stored.object_rows(sql, b, None, oid))
    assert sorted(str(r[1]) for r in rows) == sorted(
        r[0] for r in ex.store.read(lambda sql: sql.execute(
            "SELECT version FROM taxii_objects WHERE object_id = ?", (oid,)).fetchall()))


def test_a_purged_share_leaves_the_index(four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(12)
    with mock.patch.object(taxii_runs, "FANOUT", 2):
        publish(ex, a, objects[:4])
        gone = publish(ex, a, objects[4:8])  # merged with the first into a run of level 1
        publish(ex, a, objects[8:])
    ex.store.write(lambda sql: [hook(sql, gone) for hook in ex.purge_tx_hooks])
    assert sorted((o, s, p) for _, o, s, p in entries(ex)) == object_rows(ex)
    assert {o for _, o, _, _ in entries(ex)} == {o["id"] for o in objects[:4] + objects[8:]}
    src = ExchangeSource(ex)
    assert read_all(src, b, 3, ids=tuple(o["id"] for o in objects)) == \
        [o["id"] for o in objects[:4] + objects[8:]]
