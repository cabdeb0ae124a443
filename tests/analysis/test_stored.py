"""The observable index in the store: the same answers as the in-process index, across
processes and after a store migrated with rows in it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.analysis.helpers import any_observable, module_store, publish, put_fake_shares

from vigil import testing
from vigil.analysis import stored
from vigil.analysis.correlate import correlator
from vigil.analysis.index import ObservableIndex
from vigil.analysis.observables import Observable
from vigil.storage import Store
from vigil.storage import observables as obs_rows
from vigil.storage.base import Sql
from vigil.testing.stix import ioc_bundle

store = module_store("stored")


def _put(sql: Sql, held: list[tuple[Observable, int]]) -> dict[int, str]:
    """Only these fake shares' observables in the store; ref -> share id."""
    sql.execute("DELETE FROM observables")
    sql.execute("DELETE FROM observable_ip_lens")
    return put_fake_shares(sql, held)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(any_observable, st.integers(0, 5)), max_size=30),
       st.lists(any_observable, max_size=6))
def test_lookup_equals_the_in_process_index(store: Store, held: list[tuple[Observable, int]],
                                            queries: list[Observable]) -> None:
    ids = store.write(lambda sql: _put(sql, held))
    index: ObservableIndex[str] = ObservableIndex()
    for o, ref in held:
        index.add(o, ids[ref])
    got = store.read(lambda sql: stored.lookup(sql, queries))
    for q in queries:
        want = set(index.match(q))
        assert {(h, sid) for _, h, sid, _ in got.get(q, [])} == want
        assert all(orig == f"member-{r}" for _, _, sid, orig in got.get(q, [])
                   for r, s in ids.items() if s == sid)


def test_a_hash_collision_is_no_match(store: Store) -> None:
    a, b = Observable("domain", "a.example"), Observable("domain", "b.example")
    ids = store.write(lambda sql: _put(sql, [(a, 0)]))
    # b's key taken by a's row: the stored value tells them apart
    store.write(lambda sql: sql.execute("UPDATE observables SET k=?", (stored.key(b),)))
    assert store.read(lambda sql: stored.lookup(sql, [b])) == {}
    store.write(lambda sql: sql.execute("UPDATE observables SET k=?", (stored.key(a),)))
    got = store.read(lambda sql: stored.lookup(sql, [a]))
    assert [(h, sid) for _, h, sid, _ in got[a]] == [(a, ids[0])]


def test_another_process_answers_without_loading(tmp_path: Path) -> None:
    """A fresh Exchange on the store holds no index and answers the same."""
    node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    other = node.exchange()
    try:
        m = {n: node.members[n].id for n in ("alpha", "bravo")}
        a = publish(ex, m["alpha"], ioc_bundle("45.77.7.7", "45.66.0.0/16"))
        b = publish(ex, m["bravo"], ioc_bundle("45.66.3.3"))
        c = correlator(ex)
        c.process()
        want = c.search(m["bravo"], "45.66.0.0/16")
        assert {r["share"] for r in want["results"]} == {a.envelope.id, b.envelope.id}
        assert correlator(other).search(m["bravo"], "45.66.0.0/16") == want
        # a share published through the other process matches what the first stored
        d = publish(other, m["alpha"], ioc_bundle("45.66.3.3"))
        notes = correlator(other).notices(m["alpha"])[0]
        assert {(n["share"], n["match"]["share"]) for n in notes} >= {
            (d.envelope.id, b.envelope.id), (d.envelope.id, a.envelope.id)}
    finally:
        other.store.close()
        ex.store.close()


def test_rows_stored_before_the_key_are_keyed_once(tmp_path: Path) -> None:
    node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        m = {n: node.members[n].id for n in ("alpha", "bravo")}
        a = publish(ex, m["alpha"], ioc_bundle("45.77.7.7", "45.66.0.0/16"))
        correlator(ex).process()

        def unkey(sql: Sql) -> None:  # as a store migrated with rows in it
            sql.execute("UPDATE observables SET k=NULL")
            sql.execute("DELETE FROM observable_ip_lens")
            sql.execute("DELETE FROM meta WHERE key=?", (obs_rows.KEYED,))

        ex.store.write(unkey)
    finally:
        ex.store.close()
    ex = node.exchange()
    try:
        b = publish(ex, m["bravo"], ioc_bundle("45.66.9.9"))
        c = correlator(ex)
        assert [n["match"]["share"] for n in c.notices(m["bravo"])[0]] == [a.envelope.id]
        assert ex.store.read(obs_rows.keyed)
        assert ex.store.read(lambda sql: sql.execute(
            "SELECT count(*) FROM observables WHERE k IS NULL").fetchone()[0]) == 0
        assert {r["share"] for r in c.search(m["alpha"], "45.66.0.0/16")["results"]} == {
            a.envelope.id, b.envelope.id}
    finally:
        ex.store.close()


def test_the_envelope_cache_is_bounded_by_bytes(tmp_path: Path) -> None:
    """Envelopes beyond the byte bound are evicted and read again from the store; the
    correlations are the same."""
    node = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        from vigil.lru import Lru
        from vigil.node.state import envelope_weight

        m = {n: node.members[n].id for n in ("alpha", "bravo")}
        c = correlator(ex)
        ex.published_hooks.remove(c.after_publish)  # passes only when asked
        shares = [publish(ex, m["bravo"], ioc_bundle("45.90.0.0", "45.90.1.1"))]
        bound = envelope_weight(shares[0].envelope) * 5 // 2  # two of these fit
        ex.envelopes = Lru(4096, max_bytes=bound, weigh=envelope_weight)
        shares += [publish(ex, m["alpha" if i % 2 else "bravo"], ioc_bundle(f"45.90.0.{i}",
                                                                            "45.90.1.1"))
                   for i in range(1, 4)]
        assert len(ex.envelopes) == 2 and ex.envelopes.bytes <= bound
        assert ex.envelopes.get(shares[0].envelope.id) is None
        c.process()
        got = c.search(m["alpha"], "45.90.1.1")["results"]
        assert {r["share"] for r in got} == {p.envelope.id for p in shares}
        assert ex.envelopes.bytes <= bound
    finally:
        ex.store.close()
