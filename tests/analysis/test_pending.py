"""Observable keys merged into their index in the background: lookups answer the same
whatever is merged (nothing, part of a merge cut short, all), in this process and in a
fresh one, on both stores; the keys a process holds stay bounded by the merge."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.analysis.helpers import any_observable, module_store, publish, put_fake_shares, share_ids

from vigil import testing
from vigil.analysis import pending as pending_mod
from vigil.analysis import stored
from vigil.analysis.correlate import correlator
from vigil.analysis.index import ObservableIndex
from vigil.analysis.observables import Observable
from vigil.analysis.pending import PendingKeys, merge
from vigil.storage import Store, open_store
from vigil.storage import observables as obs_rows
from vigil.storage.base import Sql
from vigil.testing.stix import ioc_bundle

store = module_store("pending")


def _clear(sql: Sql) -> None:
    for table in ("observables", "observable_keys", "observable_ip_lens"):
        sql.execute(f"DELETE FROM {table}")
    sql.execute("DELETE FROM meta WHERE key=?", (obs_rows.MERGED,))


def _cut_short(sql: Sql, n: int) -> None:
    """A merge that put the first ``n`` waiting keys in the index and stopped before
    moving the mark."""
    waiting = sorted((k, seq) for seq, k in obs_rows.pending(sql, obs_rows.merged_upto(sql)))
    obs_rows.add_keys(sql, waiting[:n])


def _answers(got: dict[Observable, list[stored.Held]]) -> dict[Observable, list[tuple[
        int, Observable, str]]]:
    return {q: [(seq, h, sid) for seq, h, sid, _ in found] for q, found in got.items()}


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(any_observable, st.integers(0, 4)), max_size=25),
       st.lists(st.tuples(any_observable, st.integers(5, 8)), max_size=25),
       st.lists(any_observable, max_size=6), st.integers(1, 6), st.integers(0, 30))
def test_lookups_answer_the_same_whatever_is_merged(
        store: Store, old: list[tuple[Observable, int]], new: list[tuple[Observable, int]],
        queries: list[Observable], step: int, cut: int) -> None:
    old, new = list(dict.fromkeys(old)), list(dict.fromkeys(new))
    store.write(_clear)
    ids = store.write(lambda sql: put_fake_shares(sql, old))
    assert merge(store, at=0, step=step) == len(old)  # all of the old rows merged
    ids |= store.write(lambda sql: put_fake_shares(sql, new))  # the new ones wait
    mine = PendingKeys()
    before = store.read(lambda sql: stored.lookup(sql, queries, pending=mine))
    store.write(lambda sql: _cut_short(sql, cut))  # part of them in the index twice
    index: ObservableIndex[str] = ObservableIndex()
    for o, ref in old + new:
        index.add(o, ids[ref])
    for keys in (mine, PendingKeys(), None):  # this process's keys, a fresh process's
        got = store.read(lambda sql, keys=keys: stored.lookup(sql, queries, pending=keys))
        assert _answers(got) == _answers(before)
        for q in queries:
            assert sorted((h, sid) for _, h, sid in _answers(got).get(q, [])) == sorted(
                {(h, sid) for h, sid in index.match(q)})  # each row once, the right rows
    assert merge(store, at=0, step=step) == len(new)
    assert store.read(obs_rows.merged_upto) == store.read(obs_rows.last_seq)
    after = store.read(lambda sql: stored.lookup(sql, queries, pending=mine))
    assert _answers(after) == _answers(before)
    assert mine.size() == 0  # the merged rows left the process's keys


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> testing.TestNode:
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True}, store=store)


def test_passes_merge_and_a_fresh_process_answers_the_same(
        node: testing.TestNode, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pending_mod, "MERGE_AT", 10)
    monkeypatch.setattr(pending_mod, "STEP", 5)
    ex = node.exchange()
    try:
        m = {n: node.members[n].id for n in ("alpha", "bravo")}
        c = correlator(ex)
        values = [f"45.66.{i}.{j}" for i in range(6) for j in range(1, 5)]
        shares = []
        for i, v in enumerate(values):
            who = m["alpha"] if i % 2 else m["bravo"]
            shares.append(publish(ex, who, ioc_bundle(v, f"evil{i % 5}.example")).envelope.id)
            c.process()
            # what this process holds waits for a merge: never more than a merge's worth
            assert c.pending.size() <= 10 + 2
        merged = ex.store.read(obs_rows.merged_upto)
        assert 0 < merged < ex.store.read(obs_rows.last_seq)  # merged, and some wait
        assert ex.store.read(lambda sql: sql.execute(
            "SELECT count(*) FROM observable_keys").fetchone()[0]) >= merged // 2
        net = c.search(m["alpha"], "45.66.0.0/16")
        assert {r["share"] for r in net["results"]} == set(shares)
        host = c.search(m["alpha"], "evil3.example")
        assert {r["share"] for r in host["results"]} == {shares[i] for i in (3, 8, 13, 18, 23)}
    finally:
        ex.store.close()
    again = node.exchange()  # a restart: nothing of the first process's keys is kept
    try:
        c2 = correlator(again)
        assert c2.search(m["alpha"], "45.66.0.0/16") == net
        assert c2.search(m["alpha"], "evil3.example") == host
        assert c2.search(m["bravo"], "45.66.2.3")["count"] == 1
    finally:
        again.store.close()


def test_a_store_migrated_with_rows_keeps_its_answers(
        request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows stored before the key index of their own (named by share id, keyed in an
    index on the row) are found the same after the migration: merged, by share seq."""
    from tests.storage.conftest import stores_before

    from vigil.storage.schema import OBSERVABLE_KEY_INDEX_MIGRATION

    held = [(Observable("ip", "45.66.0.0/16"), 0), (Observable("ip", "45.66.3.3"), 1),
            (Observable("domain", "evil.example"), 1), (Observable("domain", "evil.example"), 2)]
    for url, upgrade in stores_before(OBSERVABLE_KEY_INDEX_MIGRATION, request, tmp_path,
                                       monkeypatch):
        s = open_store(url)
        try:
            def old_rows(sql: Sql) -> dict[int, str]:
                ids = {}
                for o, ref in held:
                    sid = ids.setdefault(ref, f"share-{next(share_ids)}")
                    sql.execute("INSERT INTO shares(id, originator, header, signature, "
                                "payload, wraps, created, recalled, purged) "
                                "VALUES(?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                                (sid, f"member-{ref}", b"{}", b"", b"", b"", "", False,
                                 False))
                    sql.execute("INSERT INTO observables(share_id, kind, value, k) "
                                "VALUES(?,?,?,?)", (sid, o.kind, o.value, stored.key(o)))
                obs_rows.add_ip_lens(sql, [(4, 16), (4, 32)])
                return ids

            ids = s.write(old_rows)
        finally:
            s.close()
        upgrade()
        s = open_store(url)
        try:
            assert s.read(obs_rows.merged_upto) == s.read(obs_rows.last_seq) == len(held)
            assert s.read(lambda sql: obs_rows.pending(sql, obs_rows.merged_upto(sql))) == []
            got = s.read(lambda sql: stored.lookup(
                sql, [Observable("ip", "45.66.3.0/24"), Observable("domain", "evil.example")],
                pending=PendingKeys()))
            assert {q: [(h, sid, orig) for _, h, sid, orig in found]
                    for q, found in got.items()} == {
                Observable("ip", "45.66.3.0/24"): [
                    (Observable("ip", "45.66.0.0/16"), ids[0], "member-0"),
                    (Observable("ip", "45.66.3.3"), ids[1], "member-1")],
                Observable("domain", "evil.example"): [
                    (Observable("domain", "evil.example"), ids[1], "member-1"),
                    (Observable("domain", "evil.example"), ids[2], "member-2")]}
            one = ids[1]
            assert s.read(functools.partial(obs_rows.of_shares, share_ids=[one])) == {
                one: {("ip", "45.66.3.3"), ("domain", "evil.example")}}
            s.write(functools.partial(obs_rows.delete_share, share_id=one))
            assert s.read(lambda sql: sql.execute(
                "SELECT count(*) FROM observable_keys").fetchone()[0]) == 2
        finally:
            s.close()
