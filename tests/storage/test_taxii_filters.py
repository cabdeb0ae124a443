"""The filters of the TAXII id runs (vigil.storage.taxii_filters): a filter never says
"no" for an id its run holds, says "maybe" for few others, lets a lookup probe about one
run, and the answers are those of probing every run; filters follow the runs through
merges, are read again by another process (or after the cache is emptied), and the runs
indexed before them get theirs in bounded steps. On PostgreSQL (one run, no filter) the
same lookups probe that run."""

from __future__ import annotations

import uuid
from unittest import mock

from tests.storage.taxii_ids import answers, entries, object_rows
from tests.taxii.conftest import many_objects, publish, read_all

from vigil.node.exchange import Exchange
from vigil.node.id_merges import merge_pending
from vigil.storage import open_store, taxii_filters, taxii_runs
from vigil.storage import taxii as stored
from vigil.taxii.view import ExchangeSource
from vigil.testing import TestNode


def ids(n: int, tag: str) -> list[str]:
    return [f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'{tag}/{i}')}" for i in range(n)]


def test_a_filter_holds_its_ids_and_few_others() -> None:
    held = sorted(ids(20_000, "held"))
    with mock.patch.object(taxii_filters, "PART", 3000):
        parts = [(c[0], c[-1], taxii_filters.build(c))
                 for c in (held[i:i + 3000] for i in range(0, len(held), 3000))]
    f = taxii_filters.Filter.of(parts)
    assert len(f.los) == 7
    assert all(f.may_hold(oid, taxii_filters.digest(oid)) for oid in held)  # never "no"
    others = ids(20_000, "other")
    maybe = sum(f.may_hold(oid, taxii_filters.digest(oid)) for oid in others)
    assert 0 < maybe < len(others) * 0.02  # a blocked Bloom filter, 12 bits an id
    # an id outside every part's range is not held, whatever its bits
    assert not f.may_hold("indicator--", taxii_filters.digest("indicator--"))
    assert not f.may_hold("zz", taxii_filters.digest("zz"))


def _candidates(ex: Exchange, oids: list[str]) -> dict[int, list[str]]:
    return ex.store.read(lambda sql: taxii_filters.candidates(sql, oids))


def test_lookups_probe_about_one_run_and_answer_as_every_run(
        four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(40 * 6)
    every = [o["id"] for o in objects]
    with mock.patch.object(taxii_runs, "FANOUT", 4):
        for i in range(0, len(objects), 6):
            publish(ex, a, objects[i:i + 6])
        merge_pending(ex)
    runs = ex.store.read(taxii_runs.runs)
    pg = ex.store.dialect == "postgresql"
    assert len(runs) == (1 if pg else 4)  # 40 shares, fanout 4: 220 in base 4
    found = ex.store.read(lambda sql: {
        (str(o), int(r)) for r, o in sql.execute("SELECT run, object_id FROM taxii_ids")})
    for oid in every:  # each id probed in its run, and seldom in another
        got = _candidates(ex, [oid])
        assert {r for o, r in found if o == oid} <= set(got)
    probed = sum(len(_candidates(ex, [oid])) for oid in every)
    assert probed <= len(every) * (1 if pg else 1.2)
    absent = ids(200, "absent")
    assert sum(len(_candidates(ex, [oid])) for oid in absent) <= (200 if pg else 20)
    with_filters = answers(ex, b, every)
    assert with_filters == (every[::3], every[::17])
    versions = ex.store.read(lambda sql: stored.version_rows(sql, b, None, every[::5]))
    # without the filters (every run probed): the same answers
    ex.store.write(lambda sql: sql.execute("UPDATE taxii_runs SET tag = NULL"))
    assert all(len(_candidates(ex, [oid])) == len(runs) for oid in every[::7])
    assert answers(ex, b, every) == with_filters
    assert ex.store.read(lambda sql: stored.version_rows(sql, b, None, every[::5])) == versions


def test_a_false_positive_finds_nothing(four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(20)
    publish(ex, a, objects)
    if ex.store.dialect == "postgresql":  # no filter: every lookup probes the one run
        assert list(_candidates(ex, ids(5, "absent"))) == [taxii_runs.ONE_RUN]
        assert read_all(ExchangeSource(ex), b, 5, ids=tuple(ids(5, "absent"))) == []
        return
    (run, _, _), = ex.store.read(taxii_runs.runs)
    # an id not stored that the run's filter may hold (about 1 in 100 of them)
    ghost = next(oid for oid in ids(50_000, "ghost") if _candidates(ex, [oid]))
    assert list(_candidates(ex, [ghost])) == [run]
    assert ex.store.read(lambda sql: stored.body_rows(sql, b, [ghost])) == []
    assert read_all(ExchangeSource(ex), b, 5, ids=(ghost,)) == []
    real = objects[3]["id"]
    assert [r[0] for r in ex.store.read(lambda sql: stored.body_rows(sql, b, [ghost, real]))] \
        == [real]


def parts(ex: Exchange) -> dict[int, int]:
    """Filter parts per run."""
    return {int(r): int(c) for r, c in ex.store.read(lambda sql: sql.execute(
        "SELECT run, count(*) FROM taxii_id_filters GROUP BY run").fetchall())}


def test_filters_follow_merges_and_reopen(four_members: tuple[TestNode, Exchange]) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(9 * 10)
    every = [o["id"] for o in objects]
    with mock.patch.object(taxii_runs, "FANOUT", 3), mock.patch.object(taxii_runs, "STEP", 8):
        for i in range(0, len(objects), 10):
            publish(ex, a, objects[i:i + 10])
        merge_pending(ex)
    runs = ex.store.read(taxii_runs.runs)
    if ex.store.dialect == "postgresql":
        assert parts(ex) == {} and [r for r, _, _ in runs] == [taxii_runs.ONE_RUN]
    else:
        # one run of level 2, its filter in parts (a merge step each), the merged runs'
        # filters gone with them
        assert [lv for _, lv, _ in runs] == [2]
        assert list(parts(ex)) == [runs[0][0]] and parts(ex)[runs[0][0]] >= 90 // 8
        tagged = ex.store.read(lambda sql: sql.execute(
            "SELECT tag FROM taxii_runs").fetchall())
        assert all(t[0] is not None for t in tagged)
    before = answers(ex, b, every)
    assert before == (every[::3], every[::17])
    taxii_filters.clear()  # as another process: the filters read from the store
    assert answers(ex, b, every) == before
    again = open_store(ex.store.url)
    try:
        assert {r[0] for r in again.read(lambda sql: stored.body_rows(sql, b, every[::4]))} \
            == set(every[::4])
    finally:
        again.close()


def test_runs_without_filters_get_them_in_steps(four_members: tuple[TestNode, Exchange]
                                                ) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    objects = many_objects(3 * 25)
    every = [o["id"] for o in objects]
    with mock.patch.object(taxii_runs, "FANOUT", 8):
        for i in range(0, len(objects), 25):
            publish(ex, a, objects[i:i + 25])
    before = answers(ex, b, every)
    # as the runs indexed before the filters: no tag, no parts
    ex.store.write(lambda sql: (sql.execute("UPDATE taxii_runs SET tag = NULL"),
                                sql.execute("DELETE FROM taxii_id_filters")))
    taxii_filters.clear()
    assert answers(ex, b, every) == before  # probed for every id meanwhile
    steps = 0
    with mock.patch.object(taxii_filters, "PART", 10), mock.patch.object(taxii_runs, "FANOUT", 8):
        assert ex.store.read(taxii_runs.pending) == (ex.store.dialect == "sqlite")
        while ex.store.write(taxii_runs.step):
            steps += 1
            assert answers(ex, b, every) == before
    if ex.store.dialect == "postgresql":
        assert steps == 0
        return
    assert steps == 3 * 3  # 25 ids a run, 10 a part
    assert parts(ex) == {r: 3 for r, _, _ in ex.store.read(taxii_runs.runs)}
    assert all(t[0] is not None for t in ex.store.read(lambda sql: sql.execute(
        "SELECT tag FROM taxii_runs").fetchall()))
    assert not ex.store.read(taxii_runs.pending)
    # each id now probed in its own run only (or in a rare other one)
    assert sum(len(_candidates(ex, [oid])) for oid in every) <= len(every) * 1.2
    assert sorted((o, s, p) for _, o, s, p in entries(ex)) == object_rows(ex)
