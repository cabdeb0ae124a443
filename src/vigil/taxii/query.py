"""Parsing a TAXII 2.1 request's filters: ``added_after``, ``limit``, ``next`` and the
``match[...]`` fields, into one frozen ``Query``. Bad values raise ``InputError`` with a
stable code and the parameter as the pointer: ``limit`` and ``added_after`` are read by
``vigil.params`` (``input.bad_number``, ``input.bad_time``, ``input.out_of_range``), the
rest here (``taxii.*``)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from vigil import clock
from vigil import params as parse
from vigil.errors import InputError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
KEYWORDS = frozenset({"last", "first", "all"})
_TS = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]+))?Z$")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,249}--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                 r"[0-9a-f]{4}-[0-9a-f]{12}$")
_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{1,249}$")
_SPEC = re.compile(r"^[0-9]\.[0-9]$")
FIELDS = ("id", "type", "version", "spec_version", "x_vigil_theme")


def norm_time(text: str) -> str | None:
    """A timestamp in one sortable form (nanoseconds, UTC), or None if it is not one.
    Two versions of an object are one version exactly when their forms are equal: no
    digit a STIX timestamp may carry (down to the nanosecond) is cut."""
    m = _TS.match(text)
    if m is None or len(m.group(3) or "") > 9:
        return None
    frac = (m.group(3) or "").ljust(9, "0")
    return f"{m.group(1)}T{m.group(2)}.{frac}Z"


def show_time(norm: str) -> str:
    """A normalised timestamp as STIX writes it: milliseconds unless finer is needed
    (then microseconds, or nanoseconds)."""
    if norm.endswith("000000Z"):
        return norm[:-7] + "Z"
    return norm[:-4] + "Z" if norm.endswith("000Z") else norm


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: the member's position of a share (its inbox position, or the
    one its own share took) and an object's position in it. Tokens are ``v2``: a ``v1``
    token counted positions of the TAXII index's own (before schema v22) and is refused
    as one this server did not give out."""

    seq: int
    pos: int

    def token(self) -> str:
        return base64.urlsafe_b64encode(f"v2.{self.seq}.{self.pos}".encode()).decode() \
            .rstrip("=")


def parse_cursor(token: str) -> Cursor:
    bad = InputError("the next token is not one this server gave out", code="taxii.bad_next",
                     pointer="next")
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    parts = text.split(".")
    numbers = [parse.decimal(p) for p in parts[1:]]
    if len(parts) != 3 or parts[0] != "v2" or None in numbers:
        raise bad
    seq, pos = numbers
    assert seq is not None and pos is not None
    return Cursor(seq, pos)


@dataclass(frozen=True, slots=True)
class Query:
    limit: int = DEFAULT_LIMIT
    added_after: str | None = None  # vigil's millisecond form
    cursor: Cursor | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)  # keywords and normalised timestamps
    spec_versions: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()  # match[x_vigil_theme]: only shares of these themes

    def with_id(self, object_id: str) -> Query:
        return replace(self, ids=(object_id,))


def _values(items: Iterable[str], name: str) -> list[str]:
    out = []
    for item in items:
        for v in item.split(","):
            v = v.strip()
            if not v:
                raise InputError(f"an empty value in {name}", code="taxii.bad_filter",
                                 pointer=name)
            out.append(v)
    return out


def parse_query(params: Iterable[tuple[str, str]], *, allowed: Iterable[str] = FIELDS,
                default_version: str = "last") -> Query:
    """The filters of one request (``params`` as the query string's pairs)."""
    allow = frozenset(allowed)
    multi: dict[str, list[str]] = {}
    for key, value in params:
        multi.setdefault(key, []).append(value)
    q: dict[str, object] = {"versions": (default_version,)}
    for key, values in multi.items():
        if key == "limit":
            q["limit"] = min(parse.number(values[-1], "limit", lo=1), MAX_LIMIT)
        elif key == "added_after":
            q["added_after"] = clock.fmt(parse.instant(values[-1], "added_after"))
        elif key == "next":
            q["cursor"] = parse_cursor(values[-1])
        elif key.startswith("match[") and key.endswith("]"):
            field = key[6:-1]
            if field not in allow:
                raise InputError(f"this endpoint does not filter on {key}",
                                 code="taxii.bad_filter", pointer=key)
            vals = _values(values, key)
            if field == "id":
                if not all(_ID.match(v) for v in vals):
                    raise InputError(f"{key} takes STIX ids (type--uuid)",
                                     code="taxii.bad_filter", pointer=key)
                q["ids"] = tuple(dict.fromkeys(vals))
            elif field == "type":
                if not all(_TYPE.match(v) for v in vals):
                    raise InputError(f"{key} takes STIX type names", code="taxii.bad_filter",
                                     pointer=key)
                q["types"] = tuple(dict.fromkeys(vals))
            elif field == "version":
                versions = []
                for v in vals:
                    t = v if v in KEYWORDS else norm_time(v)
                    if t is None:
                        raise InputError(f"{key} takes last, first, all or timestamps, "
                                         f"not {v!r}", code="taxii.bad_filter", pointer=key)
                    versions.append(t)
                q["versions"] = tuple(dict.fromkeys(versions))
            elif field == "x_vigil_theme":
                q["themes"] = tuple(dict.fromkeys(v.strip().lower() for v in vals))
            else:
                if not all(_SPEC.match(v) for v in vals):
                    raise InputError(f"{key} takes versions such as 2.1",
                                     code="taxii.bad_filter", pointer=key)
                q["spec_versions"] = tuple(dict.fromkeys(vals))
    return Query(**q)  # type: ignore[arg-type]
