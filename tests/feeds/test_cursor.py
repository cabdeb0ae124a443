"""A feed's cursor: server timestamps compared in one form, and the ``added_after`` that
selects a timestamp again."""

from __future__ import annotations

from vigil.feeds.cursor import instant, just_before


def test_instant_compares_across_precisions() -> None:
    assert instant("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00.000000000Z"
    assert instant("2026-01-01T00:00:00.5Z") == "2026-01-01T00:00:00.500000000Z"
    assert instant("2026-01-01T00:00:00.123456789123Z") == "2026-01-01T00:00:00.123456789Z"
    # sorted as text, the forms sort as the instants do
    stamps = ["2026-01-01T00:00:00.1Z", "2026-01-01T00:00:00.09Z", "2026-01-01T00:00:00Z"]
    assert sorted(stamps, key=instant) == [stamps[2], stamps[1], stamps[0]]
    assert instant("not a time") == "not a time"


def test_just_before_selects_the_same_instant_again() -> None:
    assert just_before("2026-01-01T00:00:00.000001Z") == "2026-01-01T00:00:00.000000Z"
    assert just_before("2026-01-01T00:00:00Z") == "2025-12-31T23:59:59.999999Z"
    assert just_before("2026-01-01T00:00:00.5Z") == "2026-01-01T00:00:00.499999Z"
    # below a microsecond the truncated microsecond is already before it
    assert just_before("2026-01-01T00:00:00.000001500Z") == "2026-01-01T00:00:00.000001Z"
    assert just_before("garbage") == "garbage"
