"""Building blocks of the STIX 2.1 validator (``vigil.stix.validate``): the problem
report, the checking context and the value checkers (``c_*``). The shapes many objects
share are in ``vigil.stix.shapes``."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vigil.stix._formats import (
    BINARY_RE,
    HEX_RE,
    IDENTIFIER_RE,
    is_uri,
    show,
    timestamp_error,
    timestamp_fraction,
)
from vigil.stix.strictjson import pointer_escape

MAX_REPORTED = 20
"""How many problems :func:`validate_bundle` lists in the error's detail."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason why content is not valid STIX 2.1."""

    code: str
    pointer: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "pointer": self.pointer, "message": self.message}


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What a valid bundle holds (returned by :func:`validate_bundle`)."""

    objects: int
    types: Mapping[str, int]
    custom_types: Mapping[str, int] = field(default_factory=dict)
    custom_properties: int = 0
    patterns_fast: int = 0
    patterns_slow: int = 0


# --- checker building blocks ---------------------------------------------------------
#
# A checker takes one JSON value and returns None, or (code, sub-pointer, message)
# for the first fault found in it. The sub-pointer is relative to the value.

Err = tuple[str, str, str]
Check = Callable[[Any], "Err | None"]


class _Stop(Exception):
    """Enough problems collected."""


class _Ctx:
    __slots__ = (
        "custom_properties",
        "custom_types",
        "limit",
        "patterns_fast",
        "patterns_slow",
        "problems",
        "slow_chars",
        "types",
    )

    def __init__(self, limit: int | None) -> None:
        self.problems: list[Problem] = []
        self.limit = limit
        self.types: Counter[str] = Counter()
        self.custom_types: Counter[str] = Counter()
        self.custom_properties = 0
        self.patterns_fast = 0
        self.patterns_slow = 0
        self.slow_chars = 0

    def add(self, code: str, pointer: str, message: str) -> None:
        self.problems.append(Problem(code, pointer, message))
        if self.limit is not None and len(self.problems) >= self.limit:
            raise _Stop


def _v(message: str, sub: str = "") -> Err:
    return ("stix.value", sub, message)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _sub(key: str | int) -> str:
    return "/" + (str(key) if isinstance(key, int) else pointer_escape(key))


def c_str(v: Any) -> Err | None:
    return None if isinstance(v, str) else _v(f"{show(v)} is not a string")


def c_bool(v: Any) -> Err | None:
    return None if isinstance(v, bool) else _v(f"{show(v)} is not a boolean")


def c_any(v: Any) -> Err | None:
    return None


def c_int(lo: int | None = None, hi: int | None = None) -> Check:
    def check(v: Any) -> Err | None:
        if not _is_int(v):
            return _v(f"{show(v)} is not an integer")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return _v(f"{v} is outside {lo}..{hi}")
        return None

    return check


def c_num(lo: float | None = None, hi: float | None = None) -> Check:
    def check(v: Any) -> Err | None:
        if not _is_num(v):
            return _v(f"{show(v)} is not a number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return _v(f"{v} is outside {lo}..{hi}")
        return None

    return check


def c_list(item: Check, *, min_items: int = 1) -> Check:
    def check(v: Any) -> Err | None:
        if not isinstance(v, list):
            return _v(f"{show(v)} is not a list")
        if len(v) < min_items:
            return _v(
                "empty lists are not allowed"
                if min_items == 1
                else f"at least {min_items} items are required"
            )
        for i, x in enumerate(v):
            e = item(x)
            if e is not None:
                return (e[0], f"/{i}{e[1]}", e[2])
        return None

    return check


def c_strs(v: Any) -> Err | None:
    if not isinstance(v, list):
        return _v(f"{show(v)} is not a list of strings")
    if not v:
        return _v("empty lists are not allowed")
    for i, x in enumerate(v):
        if not isinstance(x, str):
            return _v(f"{show(x)} is not a string", f"/{i}")
    return None


def c_strs0(v: Any) -> Err | None:
    """A list of strings that may be empty (nested, where the schema allows it)."""
    if not isinstance(v, list):
        return _v(f"{show(v)} is not a list of strings")
    for i, x in enumerate(v):
        if not isinstance(x, str):
            return _v(f"{show(x)} is not a string", f"/{i}")
    return None


def c_enum(*values: str) -> Check:
    allowed = frozenset(values)
    listing = ", ".join(values)

    def check(v: Any) -> Err | None:
        if isinstance(v, str) and v in allowed:
            return None
        return ("stix.vocab", "", f"{show(v)} is not one of: {listing}")

    return check


def c_regex(rx: re.Pattern[str], what: str) -> Check:
    def check(v: Any) -> Err | None:
        if not isinstance(v, str):
            return _v(f"{show(v)} is not a string")
        if rx.match(v) is None:
            return _v(f"{show(v)} is not {what}")
        return None

    return check


def c_search(rx: re.Pattern[str], what: str, *, negate: bool = False) -> Check:
    """A JSON-schema ``pattern`` (search semantics), or its negation."""

    def check(v: Any) -> Err | None:
        if not isinstance(v, str):
            return _v(f"{show(v)} is not a string")
        if (rx.search(v) is None) != negate:
            return _v(f"{show(v)} {what}")
        return None

    return check


def c_ts(v: Any) -> Err | None:
    if timestamp_fraction(v) >= 0:
        return None
    return ("stix.timestamp", "", timestamp_error(v) or "not a timestamp")


def c_ts_ms(v: Any) -> Err | None:
    if timestamp_fraction(v) >= 3:
        return None
    return ("stix.timestamp", "", timestamp_error(v, millis=True) or "not a timestamp")


def c_ts_whole(v: Any) -> Err | None:
    if timestamp_fraction(v) == 0:
        return None
    return ("stix.timestamp", "", timestamp_error(v, whole_seconds=True) or "not a timestamp")


c_hex = c_regex(HEX_RE, "hexadecimal (an even number of hex digits)")
c_bin = c_regex(BINARY_RE, "base64-encoded")


def c_uri(v: Any) -> Err | None:
    if not isinstance(v, str):
        return _v(f"{show(v)} is not a string")
    if not is_uri(v):
        return _v(f"{show(v)} is not an absolute URI (RFC 3986)")
    return None


def c_ref(types: Iterable[str] | None = None, *, exclude: Iterable[str] = ()) -> Check:
    """An identifier; with ``types``, of one of those types; never of ``exclude``."""
    allowed = frozenset(types) if types is not None else None
    banned = frozenset(exclude)
    what = " or ".join(sorted(allowed)) if allowed else ""
    seen_ok: set[str] = set()  # bulk data repeats created_by_ref, marking refs, ...

    def check(v: Any) -> Err | None:
        if type(v) is str and v in seen_ok:
            return None
        if not isinstance(v, str):
            return ("stix.reference", "", f"{show(v)} is not an identifier")
        m = IDENTIFIER_RE.match(v)
        if m is None:
            return ("stix.reference", "", f"{show(v)} is not an identifier (type--uuid)")
        t = m.group(1)
        if (allowed is not None and t not in allowed) or t in banned:
            if allowed is not None:
                return ("stix.reference", "", f"{show(v)} must refer to a {what} object")
            return ("stix.reference", "", f"{show(v)} may not refer to a {t} object")
        if len(seen_ok) >= 4096:
            seen_ok.clear()
        seen_ok.add(v)
        return None

    return check


def c_refs(types: Iterable[str] | None = None, *, exclude: Iterable[str] = ()) -> Check:
    return c_list(c_ref(types, exclude=exclude))


def c_forbidden(why: str) -> Check:
    def check(v: Any) -> Err | None:
        return ("stix.property", "", why)

    return check
