"""strictjson: every class of bad input, with its code and JSON pointer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import InputError
from vigil.stix import strictjson
from vigil.stix.strictjson import MAX_SAFE_INTEGER, dumps, loads, pointer_join


def fault(data: bytes | str, **kw: Any) -> InputError:
    with pytest.raises(InputError) as info:
        loads(data, **kw)
    return info.value


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "bundle", "objects": [{"a": [1, 2.5, -3, true, false, null, "x"]}]}',
        "[]",
        "{}",
        '"just a string"',
        "42",
        "-0",
        " \t\r\n[1]\n",
        '{"emoji": "\\ud83d\\ude00", "raw": "\u00e9\u4e2d"}',
        '{"a/b": {"~": 1}}',
        '{"e": 1e300, "f": -1.5E-300, "g": 1.0}',
        f"[{MAX_SAFE_INTEGER}, -{MAX_SAFE_INTEGER}, 9007199254740993.0, 1e20]",
        '{"deep": ' + "[" * 63 + "]" * 63 + "}",
    ],
)
def test_valid_json_parses_like_the_stdlib(text: str) -> None:
    assert loads(text) == json.loads(text)
    assert loads(text.encode("utf-8")) == json.loads(text)


def test_accepts_bytearray_and_memoryview() -> None:
    assert loads(bytearray(b'{"a": 1}')) == {"a": 1}
    assert loads(memoryview(b'{"a": 1}')) == {"a": 1}


def test_too_large() -> None:
    e = fault(b"[" + b"1," * 100 + b"1]", max_bytes=100)
    assert (e.code, e.pointer, e.status) == ("input.too_large", "", 413)
    e = fault("[" + '"é",' * 40 + "1]", max_bytes=150)  # 2 bytes per é: size is in bytes
    assert e.code == "input.too_large"
    assert loads(b"[1]", max_bytes=3) == [1]


@pytest.mark.parametrize(
    ("text", "pointer", "line", "column"),
    [
        ('{"type": "bundle", "objects": [', "/objects", 1, 32),
        ('{"a": [1, 2,, 3]}', "/a", 1, 13),
        ('{"a": [1, 2,]}', "/a", 1, 13),
        ('{"a": {"b": 1,}}', "/a", 1, 15),
        ("{'a': 1}", "", 1, 2),
        ('{"a" 1}', "", 1, 6),
        ('{"a": 1} x', "", 1, 10),
        ('{"a": 1}{}', "", 1, 9),
        ('{"a": tru}', "", 1, 7),
        ('{"a": 01}', "", 1, 8),
        ('{"a": "line\nbreak"}', "", 1, 7),
        ('{"objects": [{"x": 1},\n  {"y": // comment\n 2}]}', "/objects/1", 2, 9),
        ("", "", 1, 1),
        ("   ", "", 1, 4),
        ("\ufeff{}", "", 1, 1),
        ('{"a": [1] ]', "", 1, 11),
        ('{"a": "\\x"}', "", 1, 7),
    ],
)
def test_malformed(text: str, pointer: str, line: int, column: int) -> None:
    e = fault(text)
    assert e.code == "input.malformed", e
    assert e.pointer == pointer, e
    assert (e.detail["line"], e.detail["column"]) == (line, column), e


def test_bad_utf8_points_at_the_container() -> None:
    e = fault(b'{"objects": [{"name": "caf\xe9"}]}')
    assert (e.code, e.pointer) == ("input.malformed", "/objects/0")
    assert e.detail["line"] == 1
    e = fault(b'\xef\xbb\xbf{"a": 1}')  # UTF-8 BOM
    assert e.code == "input.malformed"
    e = fault(b'{"a": "\xed\xa0\x80"}')  # CESU-8 surrogate
    assert e.code == "input.malformed"


def test_lone_surrogates() -> None:
    e = fault('{"objects": [{"name": "\\ud800"}]}')
    assert (e.code, e.pointer) == ("input.malformed", "/objects/0")
    e = fault('["\\udc00\\ud800"]')
    assert e.code == "input.malformed"
    e = fault('["ok", "\ud800"]')  # a surrogate inside a Python str
    assert (e.code, e.pointer) == ("input.malformed", "")
    # an escaped backslash followed by text that looks like an escape is fine
    assert loads('["\\\\ud800"]') == ["\\ud800"]
    # ... and does not pair with a low surrogate escape after it, which stays lone
    e = fault('[{"\\\\ud800\\udc00": null}]')
    assert e.code == "input.malformed"


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ('{"objects": [{}, {}, {}, {"name": 1, "x": 2, "name": 3}]}', "/objects/3/name"),
        ('{"a": 1, "a": 1}', "/a"),
        ('{"a": 1, "\\u0061": 2}', "/a"),
        ('{"a/b": 1, "a/b": 2}', "/a~1b"),
        ('{"x": {"~k": [{"q": 1, "q": 2}]}}', "/x/~0k/0/q"),
        ('{"a": 1, "a": 2, "b": NaN}', "/a"),
    ],
)
def test_duplicate_keys(text: str, pointer: str) -> None:
    e = fault(text)
    assert (e.code, e.pointer) == ("input.duplicate_key", pointer), e


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ('{"objects": [{"confidence": NaN}]}', "/objects/0/confidence"),
        ('{"a": Infinity}', "/a"),
        ('{"a": [1, -Infinity]}', "/a/1"),
        ('{"a": 1e400}', "/a"),
        ('{"a": -1E+999}', "/a"),
        ("NaN", ""),
    ],
)
def test_non_finite(text: str, pointer: str) -> None:
    e = fault(text)
    assert (e.code, e.pointer) == ("input.non_finite", pointer), e


@pytest.mark.parametrize(
    ("literal", "ok"),
    [
        (str(MAX_SAFE_INTEGER), True),
        (str(-MAX_SAFE_INTEGER), True),
        (str(MAX_SAFE_INTEGER + 1), False),
        (str(-MAX_SAFE_INTEGER - 1), False),
        ("18446744073709551616", False),
        ("9" * 5000, False),  # beyond int()'s digit limit: still a clean error
        ("1e30", True),  # a float, not an integer
    ],
)
def test_integer_range(literal: str, ok: bool) -> None:
    text = '{"objects": [{"count": ' + literal + "}]}"
    if ok:
        assert loads(text)["objects"][0]["count"] == json.loads(literal)
    else:
        e = fault(text)
        assert (e.code, e.pointer) == ("input.integer_range", "/objects/0/count"), e


def test_too_deep() -> None:
    ok = '{"a": ' + "[" * 63 + "]" * 63 + "}"  # 64 levels
    assert loads(ok)
    e = fault('{"a": ' + "[" * 64 + "]" * 64 + "}")
    assert e.code == "input.too_deep"
    assert e.pointer == "/a" + "/0" * 63
    e = fault('{"a": [{"b": [{"c": [1]}]}]}', max_depth=5)
    assert (e.code, e.pointer) == ("input.too_deep", "/a/0/b/0/c")
    assert loads('{"a": [{"b": [{"c": [1]}]}]}', max_depth=6)
    # deeper than the stdlib parser can recurse: still a clean too_deep
    e = fault("[" * 5000 + "]" * 5000)
    assert e.code == "input.too_deep"


def test_first_fault_in_document_order_wins() -> None:
    assert fault('{"a": NaN, "b": 1, "b": 2}').code == "input.non_finite"
    assert fault('{"b": 1, "b": 2, "a": NaN}').code == "input.duplicate_key"
    assert fault('{"a": 99999999999999999999, "b": [}').code == "input.integer_range"


def test_errors_render_with_code_pointer_and_position() -> None:
    d = fault('{"a": 1, "a": 2}').to_dict()
    assert d["code"] == "input.duplicate_key"
    assert d["pointer"] == "/a"
    assert d["detail"] == {"line": 1, "column": 10, "offset": 9}


def test_dumps_is_compact() -> None:
    assert dumps({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'.encode()


def test_pointer_join() -> None:
    assert pointer_join("", "objects", 3, "name") == "/objects/3/name"
    assert pointer_join("/x", "a/b", "m~n") == "/x/a~1b/m~0n"


def test_speed_1000_indicators(indicator_bundle_bytes: bytes) -> None:
    """A regression guard, generous for a loaded CI machine (a few ms when idle)."""
    loads(indicator_bundle_bytes)
    best = min(_timed(lambda: loads(indicator_bundle_bytes)) for _ in range(5))
    assert best < 0.15, f"strictjson.loads took {best * 1000:.1f} ms for 1,000 indicators"
    assert strictjson.loads(indicator_bundle_bytes) == json.loads(indicator_bundle_bytes)


def _timed(fn: Any) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


@pytest.mark.parametrize(
    ("name", "pointer"), [("invalid_braces.json", ""), ("invalid_comma.json", "")]
)
def test_the_validator_invalid_json_examples(name: str, pointer: str) -> None:
    path = Path(__file__).resolve().parents[1] / "data" / "stix" / "oasis" / name
    e = fault(path.read_bytes())
    assert (e.code, e.pointer) == ("input.malformed", pointer)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='{}[]":,01-9.eE+ \\nabtrufsNIy\u00e9\ud83d\ude00', max_size=40))
def test_random_text_parses_like_json_or_fails_cleanly(text: str) -> None:
    try:
        value = loads(text)
    except InputError as e:
        assert e.code.startswith("input."), e
        assert e.pointer is not None
        return
    assert value == json.loads(text)
