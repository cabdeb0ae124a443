"""Time as vigil writes it: RFC 3339, UTC, milliseconds, 'Z'."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from vigil import params


def fmt(dt: datetime) -> str:
    """``dt`` as vigil writes it. The year is always four digits (strftime's ``%Y`` gives
    ``5`` for the year 5 on some platforms, which would not sort or parse as RFC 3339)."""
    dt = dt.astimezone(UTC)
    return (f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
            f"{dt.second:02d}.{dt.microsecond // 1000:03d}Z")


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
    """An expiry as vigil writes it (see :func:`vigil.params.expiry` for the forms)."""
    return fmt(params.expiry(text, base=base))
