"""The one parser of numbers, cursors, limits and times: accepted forms and the codes of
the refused ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil import params
from vigil.errors import InputError


def code_of(fn: object, *args: object, **kw: object) -> str:
    with pytest.raises(InputError) as caught:
        fn(*args, **kw)  # type: ignore[operator]
    assert caught.value.status == 400
    return caught.value.code


@pytest.mark.parametrize(("text", "want"), [("0", 0), ("7", 7), ("007", 7),
                                            (str(params.MAX_INT), params.MAX_INT)])
def test_cursor_accepts_ascii_decimals(text: str, want: int) -> None:
    assert params.cursor(text) == want


def test_cursor_absent_is_start() -> None:
    assert params.cursor(None) == 0 and params.cursor("") == 0


@pytest.mark.parametrize("text", [str(2**63), str(2**64), str(params.MAX_INT + 1), "9" * 40,
                                  "9" * 5000])
def test_cursor_beyond_bound_is_out_of_range(text: str) -> None:
    assert code_of(params.cursor, text) == "input.out_of_range"


@pytest.mark.parametrize("text", ["²", "١٢", "-1", "+1", "1e3", "0x10", " 1", "1 ", "1_000",
                                  "ten", "١"])
def test_cursor_non_ascii_or_signed_is_bad_number(text: str) -> None:
    assert code_of(params.cursor, text) == "input.bad_number"


def test_error_names_the_parameter() -> None:
    with pytest.raises(InputError) as caught:
        params.index("²", "start")
    assert caught.value.pointer == "/start"


def test_limit_bounds() -> None:
    assert params.limit("1000", 1000) == 1000
    assert code_of(params.limit, "0", 1000) == "input.out_of_range"
    assert code_of(params.limit, "1001", 1000) == "input.out_of_range"
    assert code_of(params.count, "0") == "input.out_of_range"


@pytest.mark.parametrize(("text", "want"), [
    ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ("2026-01-02T03:04:05.123456789Z", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
    ("2026-01-02T03:04:05+02:00", datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
])
def test_instant_accepts_rfc3339(text: str, want: datetime) -> None:
    assert params.instant(text) == want


@pytest.mark.parametrize(("text", "code"), [
    ("0000-01-01T00:00:00Z", "input.out_of_range"),
    ("9999-12-31T23:59:59-14:00", "input.out_of_range"),
    ("0001-01-01T00:00:00+01:00", "input.out_of_range"),
    ("2026-01-01T00:00:00", "input.bad_time"),
    ("2026-02-30T00:00:00Z", "input.bad_time"),
    ("2026-01-01T00:00:60Z", "input.bad_time"),
    ("2026-01-01T00:00:00+24:00", "input.bad_time"),
    ("２０２６-01-01T00:00:00Z", "input.bad_time"),
    ("yesterday", "input.bad_time"),
])
def test_instant_refusals(text: str, code: str) -> None:
    assert code_of(params.instant, text) == code


def test_expiry_forms() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    assert params.expiry("30d", base=base) == base + timedelta(days=30)
    assert params.expiry("2w", base=base) == base + timedelta(weeks=2)
    assert params.expiry("2027-03-04") == datetime(2027, 3, 4, tzinfo=UTC)
    assert params.expiry("2027-03-04T05:06") == datetime(2027, 3, 4, 5, 6, tzinfo=UTC)
    assert params.expiry(" 2027-03-04T05:06:07Z ") == datetime(2027, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.mark.parametrize(("text", "code"), [
    ("99999999999d", "input.out_of_range"),
    ("9999999w", "input.out_of_range"),
    ("9999-12-31T23:59:59-14:00", "input.out_of_range"),
    ("0000-01-01", "input.out_of_range"),
    ("tomorrow-ish", "input.expires"),
    ("²d", "input.expires"),
    ("2027-02-30", "input.expires"),
])
def test_expiry_refusals(text: str, code: str) -> None:
    assert code_of(params.expiry, text) == code


def test_since_is_a_span_back() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    assert params.since("7d", base=base) == base - timedelta(days=7)
    assert params.since("2026-01-01T00:00:00Z") == base
    assert code_of(params.since, "9999999w") == "input.out_of_range"
    assert code_of(params.since, "²d") == "input.expires"


def test_decimal_is_the_non_raising_reading() -> None:
    assert params.decimal("42") == 42
    assert params.decimal("²") is None and params.decimal("") is None
    assert params.decimal("9" * 5000) is None and params.decimal(str(params.MAX_INT + 1)) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.from_regex(r"[0-9²١]{0,30}[mhdwZ]?", fullmatch=True),
                 st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                               r"(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})", fullmatch=True)))
def test_every_text_is_a_value_or_an_input_error(text: str) -> None:
    for fn in (params.cursor, params.index, params.count, lambda t: params.limit(t, 1000),
               params.instant, params.expiry, params.since, params.decimal):
        try:
            fn(text)
        except InputError as exc:
            assert exc.status == 400 and exc.code.startswith("input.")


def test_day_or_time() -> None:
    assert params.day_or_time("2026-03-04") == datetime(2026, 3, 4, tzinfo=UTC)
    assert params.day_or_time("2026-03-04T05:06:07+01:00") == datetime(2026, 3, 4, 4, 6, 7,
                                                                       tzinfo=UTC)
    assert code_of(params.day_or_time, "30d") == "input.bad_time"
    assert code_of(params.day_or_time, "9999-12-31T23:59:59-14:00") == "input.out_of_range"
