"""The correlation thread ends before its store closes (nothing of it runs after)."""

from __future__ import annotations

from pathlib import Path

from tests.analysis.helpers import publish

from vigil.analysis.correlate import correlator
from vigil.testing import make_node
from vigil.testing.stix import ioc_bundle


def test_closing_the_store_stops_the_correlation_thread(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    c = correlator(ex)
    publish(ex, node.members["alpha"].id, ioc_bundle("198.51.100.7"))
    thread = c._thread
    assert thread is not None and thread.is_alive()
    ex.store.close()
    assert not thread.is_alive()


def test_warm_only_when_the_index_holds_every_share(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        c = correlator(ex)
        assert not c.warm()  # the index was never loaded
        c.process()
        assert c.warm()
        publish(ex, node.members["alpha"].id, ioc_bundle("198.51.100.8"))
        assert not c.warm()  # a share waits for its pass
        c.process()
        assert c.warm()
    finally:
        ex.store.close()
    assert not c.warm()


def test_a_pass_reads_payloads_the_process_no_longer_holds(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        c = correlator(ex)
        ex.published_hooks.remove(c.after_publish)  # passes only when asked
        a = publish(ex, node.members["alpha"].id, ioc_bundle("45.80.1.1"))
        b = publish(ex, node.members["bravo"].id, ioc_bundle("45.80.1.1"))
        ex.envelopes.pop(a.envelope.id)  # as if evicted: read from the store
        c.process()
        found = c.search(node.members["bravo"].id, "45.80.1.1")["results"]
        assert {r["share"] for r in found} == {a.envelope.id, b.envelope.id}
        assert len(c.notices(node.members["bravo"].id)[0]) == 1
    finally:
        ex.store.close()
