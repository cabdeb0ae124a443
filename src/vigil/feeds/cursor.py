"""A feed's position in a remote collection: the server's ``date_added`` of the last
page handled, compared across the forms servers write it in, and the ``added_after``
that selects that date again."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$")


def instant(text: str) -> str:
    """A server's timestamp in one sortable form (nanoseconds); unparsed text as is."""
    m = _STAMP.match(text)
    return f"{m.group(1)}.{(m.group(2) or '')[:9].ljust(9, '0')}Z" if m else text


def just_before(text: str) -> str:
    """The latest microsecond strictly before ``text``: as ``added_after`` it selects
    the objects added at ``text`` and later."""
    m = _STAMP.match(text)
    if m is None:
        return text
    frac = (m.group(2) or "").ljust(9, "0")
    t = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=UTC, microsecond=int(frac[:6]))
    if frac[6:] == "000":
        t -= timedelta(microseconds=1)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
