"""Fuzzing the parsers of numbers, cursors, limits and times (vigil.params, vigil.clock,
the SSE cursor and TAXII's query and ``next`` token).

Properties: any text is a value or an InputError with one of the documented codes, never
another exception; a number is accepted exactly when it is ASCII digits within its
bounds (an oracle independent of the parser: ``str.isascii``, ``int``); times agree
with ``datetime.fromisoformat`` and stay in the years 1-9999; every time vigil writes
is RFC 3339 with a four-digit year and reads back as the same instant; TAXII ``next``
tokens round-trip.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from vigil import clock, params
from vigil.errors import InputError
from vigil.protocol.header_form import TIME_RE
from vigil.taxii.query import Cursor, parse_cursor, parse_query
from vigil.web.stream import cursor_of

from .strategies import FUZZ, assert_vigil_error

CODES = {"input.bad_number", "input.bad_time", "input.expires", "input.out_of_range"}
DIGITISH = st.text(alphabet="0123456789²١٣𝟗 +-_.eExX\t\n", max_size=24)
NUMBERS = DIGITISH | st.integers(min_value=-(2**70), max_value=2**70).map(str) \
    | st.text(max_size=12)
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}"
                      r"(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})")


def _error(exc: BaseException, codes: set[str] = CODES) -> InputError:
    err = assert_vigil_error(exc)
    assert isinstance(err, InputError) and err.code in codes, err
    assert err.pointer
    return err


@FUZZ
@given(NUMBERS, st.integers(0, 3), st.sampled_from([1, 1000, params.MAX_INT]))
@example("²", 0, params.MAX_INT)
@example("18446744073709551616", 0, params.MAX_INT)
@example("9" * 5000, 0, params.MAX_INT)
@example("000000001358435063", 0, params.MAX_INT)
def test_numbers_are_ascii_digits_within_bounds(text: str, lo: int, hi: int) -> None:
    digits = text.isascii() and text.isdigit()
    expect = (int(text) if len(text) < 4000 else 10**4000) if digits else None
    try:
        got = params.number(text, "n", lo=lo, hi=hi)
    except Exception as exc:
        err = _error(exc)
        assert expect is None or not lo <= expect <= hi, (text, err.code)
        assert (err.code == "input.out_of_range") == (expect is not None), (text, err.code)
        return
    assert got == expect and lo <= got <= hi


@FUZZ
@given(st.none() | NUMBERS, NUMBERS | st.none() | st.integers(0, params.MAX_INT))
def test_stream_cursors(last_event_id: str | None, after: str | int | None) -> None:
    try:
        got = cursor_of(last_event_id, after)
    except Exception as exc:
        _error(exc)
        return
    assert 0 <= got <= params.MAX_INT


@st.composite
def rfc3339(draw: st.DrawFn) -> str:
    dt = draw(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
    text = dt.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    text = f"{dt.year:04d}" + text[text.index("-"):]
    if draw(st.booleans()):
        text += "." + draw(st.text("0123456789", min_size=1, max_size=9))
    off = draw(st.sampled_from(["Z", "z", "+00:00", "-14:00", "+14:00", "+05:30", "-00:01",
                                "+24:00", "+23:59"]))
    return text + off


TIMES = rfc3339() | st.text(alphabet="0123456789-:TZz+. ", max_size=30) | st.sampled_from(
    ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+00:01",
     "2026-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2026-01-01T00:00:60Z", "2026-1-1"])


def _oracle(text: str) -> datetime | None:
    """The instant per datetime.fromisoformat, or None if the text is no RFC 3339 time."""
    m = _RFC3339.fullmatch(text)
    if m is None or (len(m.group(2)) == 6 and (m.group(2)[1:3] > "23" or m.group(2)[4:] > "59")):
        return None  # RFC 3339: offset hours 00-23, minutes 00-59 (fromisoformat takes more)
    try:
        dt = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt


@FUZZ
@given(TIMES)
@example("9999-12-31T23:59:59-14:90")
def test_instants_agree_with_fromisoformat(text: str) -> None:
    want = _oracle(text)
    try:
        got = params.instant(text, "t")
    except Exception as exc:
        err = _error(exc)
        if want is not None and err.code == "input.out_of_range":
            with contextlib.suppress(OverflowError):  # leaves the years 1-9999 in UTC
                assert not 1 <= want.astimezone(UTC).year <= 9999 or want.year == 0
        else:
            assert want is None or text[17:19] == "60", (text, err.code)
        return
    assert want is not None and got == want.astimezone(UTC)
    out = clock.fmt(got)
    assert TIME_RE.fullmatch(out), out
    assert params.instant(out, "t") == got.replace(microsecond=got.microsecond // 1000 * 1000)


@FUZZ
@given(TIMES | st.from_regex(r"\A[0-9]{1,14}[mhdwy]?\Z") | st.text(max_size=20),
       st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                    timezones=st.just(UTC)))
@example("99999999999d", datetime(2026, 1, 1, tzinfo=UTC))
@example("0005-01-01", datetime(2026, 1, 1, tzinfo=UTC))
@example("9999999w", datetime(2026, 1, 1, tzinfo=UTC))
@example("00000000030d", datetime(2026, 1, 1, tzinfo=UTC))
def test_expiries_stay_in_range_and_are_written_in_rfc3339(text: str, base: datetime) -> None:
    try:
        got = params.expiry(text, base=base)
    except Exception as exc:
        _error(exc)
        return
    assert 1 <= got.year <= 9999 and got.utcoffset() == timedelta(0)
    m = re.fullmatch(r"\s*([0-9]+)([mhdw])\s*", text)
    if m:
        unit = {"m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
        assert got == base + timedelta(seconds=int(m.group(1)) * unit)
    written = clock.parse_expiry(text, base=base)
    assert TIME_RE.fullmatch(written), written
    assert params.instant(written, "t") == got.replace(microsecond=got.microsecond // 1000 * 1000)


@FUZZ
@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-14)),
                                               timezone(timedelta(hours=5, minutes=30))])))
def test_written_times_read_back(dt: datetime) -> None:
    text = clock.fmt(dt)
    assert TIME_RE.fullmatch(text), text
    back = params.instant(text, "t")
    assert back == dt.replace(microsecond=dt.microsecond // 1000 * 1000)
    assert clock.parse_expiry(text) == text


@FUZZ
@given(st.integers(0, params.MAX_INT), st.integers(0, params.MAX_INT), st.text(max_size=30))
def test_taxii_next_tokens_round_trip(seq: int, pos: int, junk: str) -> None:
    assert parse_cursor(Cursor(seq, pos).token()) == Cursor(seq, pos)
    assert params.decimal("0" * 5000 + str(seq)) == seq
    try:
        c = parse_cursor(junk)
    except Exception as exc:
        assert _error(exc, {"taxii.bad_next"}).code == "taxii.bad_next"
        return
    assert c.seq >= 0 and c.pos >= 0


KEYS = st.sampled_from(["limit", "added_after", "next", "match[id]", "match[type]",
                        "match[version]", "match[spec_version]", "match[x]", "other"])


@FUZZ
@given(st.lists(st.tuples(KEYS, NUMBERS | TIMES | st.text(max_size=20)), max_size=4))
def test_taxii_queries(pairs: list[tuple[str, str]]) -> None:
    try:
        q = parse_query(pairs)
    except Exception as exc:
        err = assert_vigil_error(exc)
        assert err.code in CODES or err.code.startswith("taxii."), err
        return
    assert 1 <= q.limit <= 1000
    assert q.added_after is None or TIME_RE.fullmatch(q.added_after), q.added_after
