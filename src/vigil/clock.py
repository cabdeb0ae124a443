"""Time as vigil writes it: RFC 3339, UTC, milliseconds, 'Z'."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from vigil.errors import InputError

_RELATIVE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def fmt(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


_last: tuple[int, str] = (-1, "")


def now() -> str:
    """The current time, formatted once per millisecond."""
    global _last
    t = time.time_ns() // 1_000_000
    cached = _last
    if cached[0] == t:
        return cached[1]
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1000)) + f".{t % 1000:03d}Z"
    _last = (t, text)
    return text


def parse_expiry(text: str, *, base: datetime | None = None) -> str:
    """An absolute RFC 3339 time or date, or a span from now such as 30d, 12h, 2w."""
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        start = base or datetime.now(UTC)
        return fmt(start + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}))
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            f"expiry {text!r} is neither RFC 3339 nor a span like 30d",
            code="input.expires",
            pointer="/expires",
        ) from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return fmt(dt)
