"""kill -9 of ``vigil serve`` during publishing, a few rounds (the 50-round run is
``python -m bench.crashloop``, docs/benchmarks.md): every acknowledged share survives,
readable by its recipient and in its inbox, and neither the inbox from cursor 0 nor an
SSE stream resumed with Last-Event-ID across the restarts yields a share twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.crashloop import Outcome, duplicates, run

pytestmark = pytest.mark.slow


def _assert_safe(out: Outcome, rounds: int) -> None:
    summary = out.summary()
    assert out.rounds == rounds
    assert out.acked, summary  # the loop published something
    assert out.ok(), summary
    assert out.stream_connects >= 2, summary  # the stream really resumed after a kill


def test_sqlite(tmp_path: Path) -> None:
    _assert_safe(run(5, "sqlite", seed=1, quiet=True, work=tmp_path), 5)


def test_sqlite_payloads_in_files(tmp_path: Path) -> None:
    """Every payload in a file of its own, synced before the row's commit."""
    out = run(3, "sqlite", seed=3, quiet=True, work=tmp_path, payload_apart=1)
    _assert_safe(out, 3)
    assert any((tmp_path / "node").glob("vigil.db-payloads/*"))


@pytest.mark.service
def test_postgresql(pg_url: str, tmp_path: Path) -> None:
    _assert_safe(run(5, pg_url, seed=2, quiet=True, work=tmp_path), 5)


def test_the_checks_see_loss_and_duplicates() -> None:
    out = Outcome(acked=["share--a", "share--b"], inbox=[(1, "share--a"), (2, "share--a")],
                  streamed=[(1, "share--a"), (1, "share--a")])
    assert duplicates([s for _, s in out.inbox]) == ["share--a"]
    out.lost = ["share--b"]
    assert not out.ok()
    assert not Outcome(bundle_duplicates=["crash loop 1"]).ok()
    assert Outcome().ok()
