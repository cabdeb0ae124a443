"""The one parser of numbers, cursors, limits and times that arrive as text.

Every surface (REST query strings, SSE ``Last-Event-ID`` and ``after``, TAXII ``limit``
and ``added_after``, console forms, CLI options) reads such values here, so that they
all accept the same forms and refuse the rest with the same codes:

- ``input.bad_number``: not a decimal integer written in ASCII digits (``²``, ``١``,
  ``+1``, ``1e3``, ``0x10`` and blanks are refused; ``str.isdigit`` accepts the first two);
- ``input.bad_time``: not an RFC 3339 timestamp;
- ``input.expires``: an expiry that is neither RFC 3339 nor a span such as ``30d``;
- ``input.out_of_range``: a well-formed value outside its bounds. Integers are bounded
  by ``MAX_INT`` (2^53 - 1: exact in every JSON client, far inside SQLite's and
  PostgreSQL's 64-bit integers even after adding a page), times by the years 1-9999
  after conversion to UTC.

Each function raises :class:`vigil.errors.InputError` (400) with the JSON pointer of the
parameter, and never any other exception.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from vigil.errors import InputError

MAX_INT = 2**53 - 1
_DIGITS = re.compile(r"0*([0-9]{1,16})")  # 16 digits hold MAX_INT; more is out of range
_LONG_DIGITS = re.compile(r"[0-9]+")
_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?([Zz]|[+-][0-9]{2}:[0-9]{2})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_NAIVE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2}))?")
_SPAN = re.compile(r"0*([0-9]{1,7})([mhdw])")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_MAX_TEXT = 64  # longer text is no number or time of ours


def _show(text: str) -> str:
    return repr(text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…")


def out_of_range(message: str, name: str) -> InputError:
    return InputError(message, code="input.out_of_range", pointer=f"/{name}")


def number(text: str, name: str, *, lo: int = 0, hi: int = MAX_INT) -> int:
    """A decimal integer in ASCII digits, ``lo <= n <= hi``."""
    m = _DIGITS.fullmatch(text)
    if m is None:
        if _LONG_DIGITS.fullmatch(text) is not None:
            raise out_of_range(f"{name} must be at most {hi}", name)
        raise InputError(f"{name} must be a decimal integer, not {_show(text)}",
                         code="input.bad_number", pointer=f"/{name}")
    n = int(m.group(1))
    if not lo <= n <= hi:
        raise out_of_range(f"{name} must be in {lo}..{hi}, not {n}", name)
    return n


def decimal(text: str) -> int | None:
    """The value of ``text`` if it is a decimal integer in ASCII digits no larger than
    ``MAX_INT``, else None: for places where a non-number is not an error."""
    m = _DIGITS.fullmatch(text)
    if m is None:
        return None
    n = int(m.group(1))
    return n if n <= MAX_INT else None


def cursor(text: str | None, name: str = "after") -> int:
    """A position already read (a seq); absent or empty is 0, the start."""
    if text is None or text == "":
        return 0
    return number(text, name)


def index(text: str, name: str = "index") -> int:
    """A 0-based position (a log index)."""
    return number(text, name)


def count(text: str, name: str = "size") -> int:
    """A positive count (a tree size)."""
    return number(text, name, lo=1)


def limit(text: str, hi: int, name: str = "limit") -> int:
    """A page size, ``1 <= n <= hi``."""
    return number(text, name, lo=1, hi=hi)


def _moment(y: str, mo: str, d: str, h: str, mi: str, s: str, frac: str | None,
            zone: str | None) -> datetime:
    """The instant of the given fields; ValueError if the date does not exist, OverflowError
    if it leaves the years 1-9999 in UTC."""
    micro = int((frac or "0")[:6].ljust(6, "0"))
    if zone is None or zone in ("Z", "z"):
        tz = UTC
    else:
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("bad offset")
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(offset if zone[0] == "+" else -offset)
    second = int(s)
    if second == 60:
        raise ValueError("leap second")
    dt = datetime(int(y), int(mo), int(d), int(h), int(mi), second, micro, tzinfo=tz)
    return dt.astimezone(UTC)


def instant(text: str, name: str = "time") -> datetime:
    """An RFC 3339 timestamp with ``Z`` or an offset, as an aware UTC datetime."""
    m = _TIME.fullmatch(text) if len(text) <= _MAX_TEXT else None
    if m is None:
        raise InputError(f"{name} must be an RFC 3339 timestamp such as "
                         f"2026-01-01T00:00:00Z, not {_show(text)}", code="input.bad_time",
                         pointer=f"/{name}")
    y, mo, d, h, mi, s, frac, zone = m.groups()
    return _checked(text, name, "input.bad_time", y, mo, d, h, mi, s, frac, zone)


def _checked(text: str, name: str, code: str, y: str, mo: str, d: str, h: str = "0",
             mi: str = "0", s: str = "0", frac: str | None = None, zone: str | None = "Z"
             ) -> datetime:
    if y == "0000":
        raise out_of_range(f"{name} {_show(text)} is before the year 1", name)
    try:
        return _moment(y, mo, d, h, mi, s, frac, zone)
    except OverflowError:
        raise out_of_range(f"{name} {_show(text)} is outside the years 1-9999 in UTC",
                           name) from None
    except ValueError:
        raise InputError(f"{name} {_show(text)} is not a calendar date and time", code=code,
                         pointer=f"/{name}") from None


def day_or_time(text: str, name: str = "time") -> datetime:
    """An RFC 3339 time, a date (midnight UTC) or a date and time without zone (UTC)."""
    text = text.strip()
    found = _day_or_time(text, name, "input.bad_time") if len(text) <= _MAX_TEXT else None
    if found is None:
        raise InputError(f"{name} {_show(text)} is not a date (YYYY-MM-DD) or an RFC 3339 "
                         "time", code="input.bad_time", pointer=f"/{name}")
    return found


def _day_or_time(text: str, name: str, code: str) -> datetime | None:
    if (m := _TIME.fullmatch(text)) is not None:
        y, mo, d, h, mi, s, frac, zone = m.groups()
        return _checked(text, name, code, y, mo, d, h, mi, s, frac, zone)
    if (m := _DATE.fullmatch(text)) is not None:
        return _checked(text, name, code, *m.groups())
    if (m := _NAIVE.fullmatch(text)) is not None:
        y, mo, d, h, mi, s = m.groups()
        return _checked(text, name, code, y, mo, d, h, mi, s or "0")
    return None


def since(text: str, *, base: datetime | None = None, name: str = "since") -> datetime:
    """A start in the past: a time as :func:`expiry` reads it, or a span back from
    ``base`` (default now) such as 7d."""
    return expiry(text, base=base, name=name, back=True)


def expiry(text: str, *, base: datetime | None = None, name: str = "expires",
           back: bool = False) -> datetime:
    """When something expires: an RFC 3339 time, a date (midnight UTC), a date and time
    without zone (UTC), or a span from ``base`` (default now) such as 30m, 12h, 30d, 2w
    (``back``: a span before ``base``)."""
    text = text.strip()
    code = "input.expires"
    if len(text) <= _MAX_TEXT:
        if (m := _SPAN.fullmatch(text)) is not None:
            start = base or datetime.now(UTC)
            span = timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
            try:
                return start - span if back else start + span
            except OverflowError:
                raise out_of_range(f"{name} {_show(text)} leaves the years 1-9999",
                                   name) from None
        if (found := _day_or_time(text, name, code)) is not None:
            return found
        if _LONG_DIGITS.fullmatch(text[:-1]) is not None and text[-1:] in _UNITS:
            raise out_of_range(f"{name} {_show(text)} is too long a span", name)
    raise InputError(f"{name} {_show(text)} is neither RFC 3339 nor a span like 30d",
                     code=code, pointer=f"/{name}")
