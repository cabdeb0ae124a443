"""Re-correlation: observables rows and correlations recomputed from stored shares."""

from __future__ import annotations

from tests.analysis.conftest import ids
from tests.analysis.helpers import publish

from vigil import testing
from vigil.analysis.correlate import Correlator, correlator
from vigil.node.exchange import Exchange
from vigil.storage.base import Sql
from vigil.testing.stix import ioc_bundle


def test_rebuild_restores_index_and_correlations(node: tuple[testing.TestNode, Exchange]) -> None:
    n, ex = node
    m = ids(n)
    c = correlator(ex)
    a = publish(ex, m["alpha"], ioc_bundle("45.77.6.6", "45.88.0.0/16"))
    b = publish(ex, m["bravo"], ioc_bundle("45.77.6.6", "45.88.1.1"))
    before = c.notices(m["bravo"])[0]

    def wipe(sql: Sql) -> None:
        sql.execute("DELETE FROM correlations")
        sql.execute("DELETE FROM observables")

    ex.store.write(wipe)
    fresh = Correlator(ex)
    seen: list[tuple[int, int, int]] = []
    stats = fresh.rebuild(progress=lambda d, t, o: seen.append((d, t, o)), batch=1)
    assert stats["shares"] == 2 and stats["observables"] == 4
    assert seen[-1] == (2, 2, 4)
    after = fresh.notices(m["bravo"])[0]
    strip = [{k: v for k, v in x.items() if k not in ("seq", "created")} for x in before]
    assert [{k: v for k, v in x.items() if k not in ("seq", "created")} for x in after] == strip
    assert {r["share"] for r in fresh.search(m["charlie"], "45.88.1.1")["results"]} == \
        {a.envelope.id, b.envelope.id}
    again = fresh.rebuild()
    assert again["correlation_rows"] == stats["correlation_rows"]
    assert again["correlations_added"] == 0
    assert len(fresh.notices(m["bravo"])[0]) == len(after)  # nothing added twice
