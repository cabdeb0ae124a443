"""Large correlation passes in the worker process: the same correlations as a pass in
the serving process, the index following, a failing worker replaced by the thread."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.analysis.helpers import publish

from vigil import testing
from vigil.analysis.correlate import Correlator, correlator
from vigil.analysis.correlation_pass import WORKER_BYTES
from vigil.analysis.worker import PassWorker
from vigil.node.exchange import Exchange
from vigil.storage.base import Sql
from vigil.testing.stix import ioc_bundle


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path
         ) -> Iterator[tuple[testing.TestNode, Exchange]]:
    store = None if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    n = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True},
                          store=store)
    ex = n.exchange()
    yield n, ex
    ex.store.close()


def big(k: int, *extra: str) -> bytes:
    """A bundle over the worker's threshold: 450 addresses of its own, and ``extra``."""
    raw = ioc_bundle(*[f"45.{k}.{i // 250}.{i % 250}" for i in range(450)], *extra)
    assert len(raw) >= WORKER_BYTES
    return raw


def rows(ex: Exchange) -> list[tuple[str, ...]]:
    def read(sql: Sql) -> list[tuple[str, ...]]:
        return sorted(tuple(r) for r in sql.execute(
            "SELECT member_id, share_id, other_id, kind, value, other_value "
            "FROM correlations").fetchall())
    return ex.store.read(read)


def test_worker_passes_equal_a_pass_in_process(node: tuple[testing.TestNode, Exchange]
                                              ) -> None:
    n, ex = node
    c = correlator(ex)
    assert c._worker is not None  # (the machine running the tests has two cores)
    alpha, bravo = n.members["alpha"].id, n.members["bravo"].id
    a = publish(ex, alpha, big(1, "46.100.7.0/24", "46.113.0.9"))
    b = publish(ex, bravo, big(2, "46.100.7.77", "46.113.0.9"))
    got = c.notices(bravo)[0]
    assert c._worker._proc is not None and c._worker._proc.poll() is None  # it ran
    assert sorted((x["observable"]["value"], x["match"]["observable"]["value"])
                  for x in got) == [("46.100.7.77", "46.100.7.0/24"),
                                    ("46.113.0.9", "46.113.0.9")]
    assert {x["match"]["share"] for x in got} == {a.envelope.id}
    # the serving process's index followed the worker's pass
    assert {r["share"] for r in c.search(alpha, "45.2.1.1")["results"]} == {b.envelope.id}
    # a pass in this process from scratch finds exactly the rows the worker stored
    before = rows(ex)
    stats = Correlator(ex, processes=0).rebuild()
    assert stats["correlations_added"] == 0 and stats["correlation_rows"] == len(before) == 4
    assert rows(ex) == before


def test_a_worker_that_ended_is_started_again(node: tuple[testing.TestNode, Exchange]
                                             ) -> None:
    n, ex = node
    c = correlator(ex)
    assert c._worker is not None
    publish(ex, n.members["alpha"].id, big(1, "46.113.0.5"))
    c.process()
    first = c._worker._proc
    assert first is not None
    first.kill()
    first.wait()
    publish(ex, n.members["bravo"].id, big(2, "46.113.0.5"))
    assert len(c.notices(n.members["bravo"].id)[0]) == 1
    assert c._worker is not None and c._worker._proc is not first


def test_a_failing_worker_is_dropped_and_nothing_lost(node: tuple[testing.TestNode, Exchange]
                                                     ) -> None:
    n, ex = node
    c = correlator(ex)
    worker = c._worker
    assert worker is not None
    # a worker that takes the ask and ends without an answer
    worker._proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read(1)"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    publish(ex, n.members["alpha"].id, big(1, "46.113.0.6"))
    publish(ex, n.members["bravo"].id, big(2, "46.113.0.6"))
    assert len(c.notices(n.members["bravo"].id)[0]) == 1  # passed in this process
    assert c._worker is None and worker._proc is None


def test_closing_the_store_ends_the_worker(tmp_path: Path) -> None:
    n = testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = n.exchange()
    c = correlator(ex)
    publish(ex, n.members["alpha"].id, big(1))
    c.process()
    assert c._worker is not None
    proc = c._worker._proc
    assert proc is not None and proc.poll() is None
    ex.store.close()
    assert proc.poll() == 0


def test_no_worker_when_told_none(tmp_path: Path) -> None:
    n = testing.make_node(tmp_path / "node", {"alpha": True})
    ex = n.exchange()
    try:
        c = Correlator(ex, processes=0)
        assert c._worker is None
        w = PassWorker(ex.store.url)
        w.close()  # never started: nothing to end
        assert w._proc is None
    finally:
        ex.store.close()
