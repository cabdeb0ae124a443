"""The rows of correlation: one per side of a match (one when both sides are one
member), each at the next position of its own member's notices, and the observables
rows of a share with their keys."""

from __future__ import annotations

from pathlib import Path

from tests.analysis.helpers import publish
from tests.conftest import four_member_exchange

from vigil.analysis.correlation_rows import (
    correlation_rows,
    insert_correlations,
    share_states,
    write_observables,
)
from vigil.analysis.observables import Observable
from vigil.storage import correlations as corr
from vigil.storage import observables as obs_rows
from vigil.testing.stix import ioc_bundle


def test_a_match_is_a_row_for_each_side() -> None:
    new, held = Observable("ip", "45.77.1.5"), Observable("ip", "45.77.1.0/24")
    assert correlation_rows("s2", "bravo", new, "s1", "alpha", held) == [
        ("bravo", "s2", "s1", "ip", "45.77.1.5", "45.77.1.0/24"),
        ("alpha", "s1", "s2", "ip", "45.77.1.0/24", "45.77.1.5")]
    assert correlation_rows("s2", "alpha", new, "s1", "alpha", held) == [
        ("alpha", "s2", "s1", "ip", "45.77.1.5", "45.77.1.0/24")]


def test_rows_take_positions_of_their_own_member(tmp_path: Path) -> None:
    _, ex = four_member_exchange(tmp_path / "node")
    try:
        first = [("alpha", "s1", "s2", "ip", "a", "b"), ("bravo", "s2", "s1", "ip", "b", "a"),
                 ("alpha", "s3", "s2", "ip", "c", "b")]
        ex.store.write(lambda sql: insert_correlations(sql, first))
        ex.store.write(lambda sql: insert_correlations(
            sql, [("bravo", "s4", "s1", "ip", "d", "a")]))
        ex.store.write(lambda sql: insert_correlations(sql, []))
        got = {m: ex.store.read(lambda sql, m=m: corr.member_rows(sql, m, 0, 10))
               for m in ("alpha", "bravo")}
        assert [(int(r[0]), r[1]) for r in got["alpha"]] == [(1, "s1"), (2, "s3")]
        assert [(int(r[0]), r[1]) for r in got["bravo"]] == [(1, "s2"), (2, "s4")]
    finally:
        ex.store.close()


def test_observables_rows_and_share_states(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    try:
        alpha = node.members["alpha"].id
        sid = publish(ex, alpha, ioc_bundle("45.9.9.9")).envelope.id
        obs = [Observable("ip", "45.9.9.9"), Observable("domain", "example.org")]
        ex.store.write(lambda sql: write_observables(sql, {sid: obs}))
        have = ex.store.read(lambda sql: obs_rows.of_shares(sql, share_ids=[sid]))
        assert have[sid] >= {("ip", "45.9.9.9"), ("domain", "example.org")}
        states = ex.store.read(lambda sql: share_states(sql, [sid, "share--missing", sid]))
        assert list(states) == [sid]
        header, state = states[sid]
        assert header["originator"] == alpha and not state.recalled and not state.purged
    finally:
        ex.store.close()
