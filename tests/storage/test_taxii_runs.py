"""The TAXII object-id index as sorted runs (vigil.storage.taxii_runs), on both stores:
each share's ids are one run, runs of a level merge into one of the next once FANOUT of
them gather, every id stays findable through every merge (by-id pages, versions, bodies,
the same answers as a scan of the object rows), and a purged share's ids leave the
index."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from tests.storage.taxii_ids import answers, entries, object_rows
from tests.taxii.conftest import indicator, many_objects, publish, read_all

from vigil.model import Actor
from vigil.node.exchange import Exchange
from vigil.node.id_merges import merge_pending
from vigil.storage import open_store, taxii_runs
from vigil.storage import taxii as stored
from vigil.taxii.query import Query
from vigil.taxii.view import ExchangeSource
from vigil.testing import TestNode


def test_runs_merge_by_tiers_and_answer_as_before(four_members: tuple[TestNode, Exchange]
                                                  ) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(27 * 7)
    with mock.patch.object(taxii_runs, "FANOUT", 3):
        for i in range(0, len(objects), 7):
            publish(ex, a, objects[i:i + 7])
        # a publish only adds its run: the merges are the node's, between requests
        assert {level for _, level, _ in ex.store.read(taxii_runs.runs)} == {0}
        merge_pending(ex)
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
        merge_pending(ex)
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
        merge_pending(ex)
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
        merge_pending(ex)
    assert len(ex.store.read(taxii_runs.runs)) == 1 if ex.store.dialect == "postgresql" else 2
    ex.store.write(lambda sql: [hook(sql, gone) for hook in ex.purge_tx_hooks])
    assert sorted((o, s, p) for _, o, s, p in entries(ex)) == object_rows(ex)
    assert {o for _, o, _, _ in entries(ex)} == {o["id"] for o in objects[:4] + objects[8:]}
    src = ExchangeSource(ex)
    assert read_all(src, b, 3, ids=tuple(o["id"] for o in objects)) == \
        [o["id"] for o in objects[:4] + objects[8:]]


def test_a_merge_in_steps_answers_the_same_at_each(four_members: tuple[TestNode, Exchange]
                                                    ) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(4 * 15)
    every = [o["id"] for o in objects]
    with mock.patch.object(taxii_runs, "FANOUT", 4), mock.patch.object(taxii_runs, "STEP", 6):
        for i in range(0, len(objects), 15):
            publish(ex, a, objects[i:i + 15])
        before = answers(ex, b, every)
        assert before == (every[::3], every[::17])
        steps = 0
        while ex.store.write(taxii_runs.step):
            steps += 1
            assert answers(ex, b, every) == before
            listed = ex.store.read(taxii_runs.runs)
            # the runs merged are listed until the merged run replaces them whole
            assert [lv for _, lv, _ in listed] in ([0, 0, 0, 0], [1], [0])
    if ex.store.dialect == "postgresql":
        assert steps == 0  # one run, never merged
        return
    # 60 ids, 6 read per step: 1 to start, >= 10 to copy, 10 + 1 to free 4 runs
    assert steps >= 20
    assert [lv for _, lv, _ in ex.store.read(taxii_runs.runs)] == [1]
    assert entries(ex) and [(o, s, p) for _, o, s, p in entries(ex)] == object_rows(ex)
    assert answers(ex, b, every) == before


def test_a_merge_stopped_anywhere_resumes(four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(3 * 20)
    every = [o["id"] for o in objects]
    with mock.patch.object(taxii_runs, "FANOUT", 3), mock.patch.object(taxii_runs, "STEP", 5):
        for i in range(0, len(objects), 20):
            publish(ex, a, objects[i:i + 20])
        if ex.store.dialect == "postgresql":  # one run, never merged: nothing to resume
            assert merge_pending(ex, steps=4) == 0
            assert [lv for _, lv, _ in ex.store.read(taxii_runs.runs)] == [0]
            return
        assert merge_pending(ex, steps=4) == 4
        # a step killed before its commit leaves nothing of itself
        kept = entries(ex)
        with mock.patch.object(taxii_runs, "_save", side_effect=RuntimeError("killed")), \
                pytest.raises(RuntimeError):
            for _ in range(500):  # up to the step that saves its state
                ex.store.write(taxii_runs.step)
        assert len(entries(ex)) >= len(kept)
        # the node stops between steps; another process opens the store and goes on
        again = open_store(ex.store.url)
        try:
            while again.write(taxii_runs.step):
                pass
        finally:
            again.close()
    assert [lv for _, lv, _ in ex.store.read(taxii_runs.runs)] == [1]
    assert [(o, s, p) for _, o, s, p in entries(ex)] == object_rows(ex)  # none lost or twice
    assert answers(ex, b, every) == (every[::3], every[::17])


def test_a_share_purged_during_a_merge(four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(3 * 10)
    with mock.patch.object(taxii_runs, "FANOUT", 3), mock.patch.object(taxii_runs, "STEP", 4):
        publish(ex, a, objects[:10])
        gone = publish(ex, a, objects[10:20])
        publish(ex, a, objects[20:])
        merge_pending(ex, steps=3)  # part of the merged run written
        ex.store.write(lambda sql: [hook(sql, gone) for hook in ex.purge_tx_hooks])
        merge_pending(ex)
    assert [(o, s, p) for _, o, s, p in entries(ex)] == object_rows(ex)
    kept = [o["id"] for o in objects[:10] + objects[20:]]
    assert {o for _, o, _, _ in entries(ex)} == set(kept)
    assert read_all(ExchangeSource(ex), b, 4, ids=tuple(o["id"] for o in objects)) == kept


V24_BACK = [
    "DROP TABLE taxii_id_filters",  # v27 undone
    "DROP TABLE fed_held",  # v26 undone
    "DROP TABLE taxii_ids",  # v25 undone
    "DROP TABLE taxii_runs",
    "CREATE INDEX taxii_objects_id ON taxii_objects(object_id, share_seq)",
    "UPDATE meta SET value = '24' WHERE key = 'schema_version'",
]


def by_id_answers(ex: Exchange, members: list[str], every: list[str]) -> list[Any]:
    """Every by-id answer of each member: pages through all ids and some, each id
    alone (latest and all versions), its rows, bodies and versions."""
    src = ExchangeSource(ex)
    out: list[Any] = []
    for who in members:
        coll = src.collections(Actor(who))[0]
        out.append(read_all(src, who, 4, ids=tuple(every)))
        out.append(read_all(src, who, 5, ids=tuple(every[::4])))
        for oid in every:
            out.append([(i.id, i.version) for i in src.page(
                Actor(who), coll, Query(ids=(oid,), versions=("all",))).items])
            out.append([i.id for i in src.page(Actor(who), coll, Query(ids=(oid,))).items])
            out.append(sorted(map(tuple, ex.store.read(
                lambda sql, oid=oid, who=who: stored.object_rows(sql, who, None, oid)))))
        out.append(sorted((r[0], r[1], r[3]) for r in ex.store.read(
            lambda sql, who=who: stored.body_rows(sql, who, every))))
        out.append(sorted(map(tuple, ex.store.read(
            lambda sql, who=who: stored.version_rows(sql, who, None, every)))))
    return out


def test_v25_on_a_store_holding_objects(four_members: tuple[TestNode, Exchange]) -> None:
    """A store that held TAXII objects before the id runs (v24) answers every lookup by
    id the same once migrated: its ids become one run (of level 6), whose filter the
    merges' task builds; new shares' runs merge beside it."""
    n, ex = four_members
    a, b, c = (n.members[m].id for m in ("alpha", "bravo", "charlie"))
    objects = many_objects(60)
    oid = "indicator--6a1f4f0e-0000-4000-8000-000000000002"
    for i in range(0, 40, 8):
        publish(ex, a, objects[i:i + 8])
    publish(ex, c, objects[40:50])
    gone = publish(ex, b, objects[50:])
    for d in range(1, 4):
        publish(ex, a, [indicator(oid, f"2026-02-0{d}T00:00:00.000Z", name=f"v{d}")])
    ex.store.write(lambda sql: [hook(sql, gone) for hook in ex.purge_tx_hooks])
    every = [o["id"] for o in objects] + [oid, "indicator--00000000-0000-4000-8000-0000000000ff"]
    members = [a, b, c]
    src = ExchangeSource(ex)
    before = by_id_answers(ex, members, every)
    pages = [read_all(src, who, 9) for who in members]
    assert len(before[0]) == 50 + 1  # alpha reads all but the purged share
    # the store as v24 left it, with its objects: v27, v26 and v25 undone
    ex.store.write(lambda sql: [sql.execute(s) for s in V24_BACK])
    if ex.store.dialect == "sqlite":  # the same schema as a store made at v24
        from vigil.storage import sqlite as sqlite_module
        from vigil.storage.schema import MIGRATIONS

        schema = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
        with mock.patch.object(sqlite_module, "MIGRATIONS", MIGRATIONS[:24]):
            fresh = open_store(f"sqlite:///{n.data / 'v24.db'}")
        try:
            assert ex.store.read(lambda sql: sql.execute(schema).fetchall()) == \
                fresh.read(lambda sql: sql.execute(schema).fetchall())
        finally:
            fresh.close()
    open_store(ex.store.url).close()  # migrates to the last version
    assert ex.store.read(taxii_runs.runs) == [(taxii_runs.ONE_RUN, 6, 50 + 3)]
    assert [(o, s, p) for _, o, s, p in entries(ex)] == object_rows(ex)
    assert by_id_answers(ex, members, every) == before
    assert [read_all(src, who, 9) for who in members] == pages
    merge_pending(ex)  # SQLite: the run's filter, in steps
    untagged = ex.store.read(lambda sql: sql.execute(
        "SELECT count(*) FROM taxii_runs WHERE tag IS NULL").fetchone()[0])
    assert untagged == (1 if ex.store.dialect == "postgresql" else 0)
    assert by_id_answers(ex, members, every) == before
    # new shares: runs of their own, merged beside the old one; the old ids answer alike
    with mock.patch.object(taxii_runs, "FANOUT", 2):
        more = many_objects(76)[60:]
        for i in range(0, 16, 4):
            publish(ex, a, more[i:i + 4])
        merge_pending(ex)
    levels = sorted(lv for _, lv, _ in ex.store.read(taxii_runs.runs))
    assert levels == ([6] if ex.store.dialect == "postgresql" else [2, 6])  # PG: one run
    assert by_id_answers(ex, members, every) == before
    assert read_all(src, a, 5, ids=tuple(o["id"] for o in more)) == [o["id"] for o in more]
