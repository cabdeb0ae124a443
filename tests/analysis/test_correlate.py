"""Correlation on publish, on both stores: plain shares correlate both ways, sealed
shares and warninglisted values do not, a recall drops what a share derived, and a
second worker sees the first one's shares."""

from __future__ import annotations

from tests.analysis.conftest import ids
from tests.analysis.helpers import publish

from vigil import testing
from vigil.analysis.correlate import correlator
from vigil.model import Tlp
from vigil.node.exchange import Exchange
from vigil.storage.base import Sql
from vigil.testing.stix import ioc_bundle


def test_plain_shares_correlate_both_ways(node: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    a = publish(ex, m["alpha"], ioc_bundle("45.77.1.0/24"))
    b = publish(ex, m["bravo"], ioc_bundle("45.77.1.5", "45.99.0.1"))
    got_b, cursor = c.notices(m["bravo"])
    assert [x["match"]["share"] for x in got_b] == [a.envelope.id]
    assert got_b[0]["share"] == b.envelope.id
    assert got_b[0]["observable"] == {"kind": "ip", "value": "45.77.1.5"}
    assert got_b[0]["match"]["observable"] == {"kind": "ip", "value": "45.77.1.0/24"}
    got_a, _ = c.notices(m["alpha"])
    assert [x["match"]["share"] for x in got_a] == [b.envelope.id]
    assert c.notices(m["bravo"], after=cursor)[0] == []
    assert c.notices(m["charlie"])[0] == []


def test_sealed_shares_are_not_indexed(node: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    publish(ex, m["alpha"], ioc_bundle("45.77.1.7"), tlp=Tlp.AMBER, to=("group1",))
    publish(ex, m["bravo"], ioc_bundle("45.77.1.7"))
    assert c.notices(m["bravo"])[0] == []
    assert c.search(m["alpha"], "45.77.1.7")["count"] == 1  # only the plain one

    def rows(sql: Sql) -> int:
        return int(sql.execute("SELECT count(*) FROM observables").fetchone()[0])

    assert ex.store.read(rows) == 1


def test_warninglisted_values_raise_nothing(node: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    publish(ex, m["alpha"], ioc_bundle("8.8.8.8"))
    publish(ex, m["bravo"], ioc_bundle("8.8.8.8"))
    assert c.notices(m["bravo"])[0] == []
    found = c.search(m["bravo"], "8.8.8.8")
    assert found["count"] == 2
    assert found["warninglists"] == ["List of known IPv4 public DNS resolvers"]


def test_recalled_share_disappears_from_notices_and_search(
        node: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    a = publish(ex, m["alpha"], ioc_bundle("45.77.4.4"))
    publish(ex, m["bravo"], ioc_bundle("45.77.4.4"))
    assert len(c.notices(m["bravo"])[0]) == 1
    ex.store.write(lambda sql: sql.execute("UPDATE shares SET recalled=? WHERE id=?",
                                           (True, a.envelope.id)))
    assert c.notices(m["bravo"])[0] == []
    assert c.search(m["bravo"], "45.77.4.4")["count"] == 1
    assert c.search(m["alpha"], "45.77.4.4")["count"] == 2  # the originator still reads


def test_a_second_worker_sees_the_first_workers_shares(
        node: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = node
    m = ids(n)
    other = n.exchange()  # another process's Exchange over the same store
    try:
        a = publish(other, m["alpha"], ioc_bundle("45.77.5.5"))
        publish(ex, m["bravo"], ioc_bundle("45.77.5.0/24"))
        assert [x["match"]["share"] for x in correlator(ex).notices(m["bravo"])[0]] == \
            [a.envelope.id]
    finally:
        other.store.close()


def test_recall_drops_observables_and_correlations(node: tuple[testing.TestNode, Exchange]
                                                   ) -> None:
    from vigil.node.accountability import recall

    n, ex = node
    m = ids(n)
    c = correlator(ex)
    a = publish(ex, m["alpha"], ioc_bundle("45.77.7.7", "45.66.0.0/16"))
    b = publish(ex, m["bravo"], ioc_bundle("45.77.7.7"))
    assert len(c.notices(m["bravo"])[0]) == 1
    other = n.exchange()  # another worker, whose index already holds alpha's share
    correlator(other).catch_up()
    recall(ex, m["alpha"], a.envelope.id)

    def rows(sql: Sql) -> tuple[int, int]:
        return (int(sql.execute("SELECT count(*) FROM observables o JOIN shares s ON "
                                "s.seq=o.share_seq WHERE s.id=?",
                                (a.envelope.id,)).fetchone()[0]),
                int(sql.execute("SELECT count(*) FROM correlations WHERE share_id=? "
                                "OR other_id=?", (a.envelope.id, a.envelope.id)
                                ).fetchone()[0]))

    assert ex.store.read(rows) == (0, 0)
    assert c.notices(m["bravo"])[0] == [] and c.notices(m["alpha"])[0] == []
    # a later share matches only what is still held, in this process and in another
    try:
        ch = publish(other, m["charlie"], ioc_bundle("45.77.7.7", "45.66.1.1"))
        assert [x["match"]["share"] for x in correlator(other).notices(m["charlie"])[0]] == \
            [b.envelope.id]
        assert ex.store.read(rows) == (0, 0)
        assert [r["share"] for r in c.search(m["alpha"], "45.66.1.1")["results"]] == \
            [ch.envelope.id]
    finally:
        other.store.close()


