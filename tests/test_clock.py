"""Time as vigil writes it: RFC 3339 in UTC with milliseconds and ``Z``."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from vigil import clock
from vigil.errors import InputError

STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_fmt_writes_utc_milliseconds_and_a_four_digit_year() -> None:
    assert clock.fmt(datetime(2026, 1, 2, 3, 4, 5, 678_999, tzinfo=UTC)) == \
        "2026-01-02T03:04:05.678Z"  # truncated, not rounded
    assert clock.fmt(datetime(5, 1, 1, tzinfo=UTC)) == "0005-01-01T00:00:00.000Z"
    east = timezone(timedelta(hours=2))
    assert clock.fmt(datetime(2026, 1, 1, 1, 0, tzinfo=east)) == "2025-12-31T23:00:00.000Z"


def test_now_is_the_current_time_in_the_same_form() -> None:
    before = clock.fmt(datetime.now(UTC) - timedelta(milliseconds=1))
    got = clock.now()
    after = clock.fmt(datetime.now(UTC) + timedelta(milliseconds=1))
    assert STAMP.match(got)
    assert before <= got <= after  # the form sorts as the time does


def test_now_moves_on_with_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    ns = [1_700_000_000_123_000_000]
    monkeypatch.setattr(time, "time_ns", lambda: ns[0])
    assert clock.now() == "2023-11-14T22:13:20.123Z"
    assert clock.now() == "2023-11-14T22:13:20.123Z"
    ns[0] += 1_000_000
    assert clock.now() == "2023-11-14T22:13:20.124Z"  # a new millisecond, a new text


def test_parse_expiry_takes_spans_and_times() -> None:
    base = datetime(2026, 3, 1, tzinfo=UTC)
    assert clock.parse_expiry("30d", base=base) == "2026-03-31T00:00:00.000Z"
    assert clock.parse_expiry("2026-04-01T10:00:00+02:00") == "2026-04-01T08:00:00.000Z"
    with pytest.raises(InputError) as info:
        clock.parse_expiry("soon")
    assert info.value.code == "input.expires"
