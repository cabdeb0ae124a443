"""The validator's value checkers: each answers None or (code, sub-pointer, message)
for the first fault in one JSON value, the pointer relative to the value; the checking
context stops once it holds enough problems."""

from __future__ import annotations

import re

import pytest

from vigil.stix.checks import (
    _Ctx,
    _Stop,
    c_bool,
    c_enum,
    c_int,
    c_list,
    c_num,
    c_ref,
    c_regex,
    c_str,
    c_strs,
    c_ts,
    c_ts_ms,
    c_uri,
)

UUID = "0b2a5b7e-3c2a-4d6e-9f0a-1b2c3d4e5f60"


def code(e: object) -> object:
    return None if e is None else e[:2]  # type: ignore[index]


def test_scalars() -> None:
    assert c_str("x") is None and code(c_str(1)) == ("stix.value", "")
    assert c_bool(False) is None and c_bool(0) is not None
    assert c_int(0, 10)(10) is None
    for bad in (11, -1, True, 1.5, "1"):
        assert code(c_int(0, 10)(bad)) == ("stix.value", ""), bad
    assert c_num(0, 1)(0.5) is None and c_num(0, 1)(True) is not None
    assert code(c_enum("a", "b")("c")) == ("stix.vocab", "") and c_enum("a")("a") is None
    assert c_regex(re.compile(r"ab"), "ab")("abc") is None  # match: at the start
    assert c_regex(re.compile(r"ab"), "ab")("cab") is not None


def test_lists_point_at_the_bad_item() -> None:
    ints = c_list(c_int())
    assert ints([1, 2]) is None
    assert code(ints([1, "x"])) == ("stix.value", "/1")
    assert ints([]) is not None and c_list(c_int(), min_items=0)([]) is None
    assert code(c_strs(["a", 2])) == ("stix.value", "/1") and c_strs([]) is not None


def test_timestamps_uris_and_references() -> None:
    assert c_ts("2026-12-07T18:00:00Z") is None
    assert c_ts("2026-12-07T18:00:00.1Z") is None
    assert code(c_ts_ms("2026-12-07T18:00:00Z")) == ("stix.timestamp", "")
    assert code(c_ts("2026-13-07T18:00:00Z")) == ("stix.timestamp", "")
    assert c_uri("https://example.org/x") is None and c_uri("example.org") is not None
    malware = c_ref(["malware"])
    assert malware(f"malware--{UUID}") is None
    assert code(malware(f"tool--{UUID}")) == ("stix.reference", "")
    assert code(malware("malware--nope")) == ("stix.reference", "")
    assert code(c_ref(exclude=["bundle"])(f"bundle--{UUID}")) == ("stix.reference", "")


def test_the_context_stops_at_its_limit() -> None:
    ctx = _Ctx(2)
    ctx.add("stix.value", "/a", "one")
    with pytest.raises(_Stop):
        ctx.add("stix.value", "/b", "two")
    assert [p.pointer for p in ctx.problems] == ["/a", "/b"]
    unbounded = _Ctx(None)
    for i in range(100):
        unbounded.add("stix.value", f"/{i}", "x")
    assert len(unbounded.problems) == 100
