"""Fuzzing the strict JSON parser (vigil.stix.strictjson) against the standard
library's json module as an independent oracle.

Properties: any bytes or text either parse or raise an InputError with one of the
documented codes (never another exception); the parser accepts exactly what the
oracle -- stdlib json plus the documented extra refusals, each computed independently
-- accepts, with the same value; dumps/loads round-trips every value it accepts.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from vigil.errors import InputError
from vigil.stix import strictjson

from .strategies import FUZZ, assert_vigil_error, json_values

CODES = {"input.malformed", "input.duplicate_key", "input.non_finite", "input.integer_range",
         "input.too_deep", "input.too_large"}
MAX_DEPTH = 8  # small, so that generated texts cross it


class _Refused(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise _Refused("input.duplicate_key")
    return dict(pairs)


def _int(literal: str) -> int:
    v = int(literal)
    if abs(v) > 2**53:
        raise _Refused("input.integer_range")
    return v


def _float(literal: str) -> float:
    v = float(literal)
    if not math.isfinite(v):
        raise _Refused("input.non_finite")
    return v


def _constant(literal: str) -> float:
    raise _Refused("input.non_finite")


def _depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max(map(_depth, v.values()), default=0)
    if isinstance(v, list):
        return 1 + max(map(_depth, v), default=0)
    return 0


def _has_surrogate(v: Any) -> bool:
    if isinstance(v, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in v)
    if isinstance(v, dict):
        return any(_has_surrogate(k) or _has_surrogate(x) for k, x in v.items())
    if isinstance(v, list):
        return any(map(_has_surrogate, v))
    return False


def oracle(data: bytes | str) -> tuple[bool, Any]:
    """(True, value) or (False, set of the codes that may explain the refusal)."""
    anywhere = CODES - {"input.too_large"}  # a fault earlier in the text wins
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            return False, anywhere
    if data.startswith("\ufeff"):
        return False, {"input.malformed"}
    if _has_surrogate(data):
        return False, anywhere
    faults: set[str] = set()
    try:
        value = json.loads(data, object_pairs_hook=_pairs, parse_int=_int,
                           parse_float=_float, parse_constant=_constant)
    except _Refused as r:
        faults.add(str(r))
        # a malformed text later in the document, or one of the other faults, may
        # come first in document order: the parser reports the first
        faults |= {"input.malformed", "input.too_deep", *CODES} - {"input.too_large"}
        return False, faults
    except (ValueError, RecursionError):
        return False, {"input.malformed", "input.too_deep", "input.duplicate_key",
                       "input.non_finite", "input.integer_range"}
    if _has_surrogate(value):
        return False, {"input.malformed"}
    if _depth(value) > MAX_DEPTH:
        return False, {"input.too_deep"}
    return True, value


def check(data: bytes | str) -> None:
    ok, want = oracle(data)
    try:
        got = strictjson.loads(data, max_depth=MAX_DEPTH)
    except Exception as exc:
        err = assert_vigil_error(exc)
        assert isinstance(err, InputError) and err.code in CODES
        assert not ok, f"refused ({err.code}) what the oracle accepts: {data!r}"
        assert err.code in want, (err.code, want, data)
        assert err.pointer is not None
        return
    assert ok, f"accepted what the oracle refuses ({want}): {data!r}"
    assert got == want and json.dumps(got) == json.dumps(want)


ALPHABET = '{}[]":,-+.0123456789eE \t\n\\/ubfnrtaslNIy\u00e9\U0001f600\ufeff\x00\x1f'
SHORT = st.text(alphabet=ALPHABET, max_size=60)


@FUZZ
@given(st.binary(max_size=80))
@example(b'{"a":1,"a":2}')
@example(b"\xef\xbb\xbf{}")
@example(b'["\\ud800"]')
@example(b"[" * 9 + b"]" * 9)
@example(b"[1e400]")
@example(b"[NaN]\xfd")
@example(b"[9007199254740993]")
def test_any_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(SHORT)
def test_any_text_from_json_characters(text: str) -> None:
    check(text)
    check(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(json_values(max_leaves=30), st.sampled_from([None, 0, 2]), st.booleans())
def test_valid_documents_agree_and_round_trip(value: Any, indent: int | None,
                                              ascii_only: bool) -> None:
    text = json.dumps(value, indent=indent, ensure_ascii=ascii_only)
    check(text)
    if _depth(value) <= MAX_DEPTH and not _has_surrogate(value):
        parsed = strictjson.loads(text.encode("utf-8", "surrogatepass"), max_depth=MAX_DEPTH)
        assert strictjson.loads(strictjson.dumps(parsed)) == parsed


@st.composite
def spliced(draw: st.DrawFn) -> str:
    """A valid document with a few characters inserted, removed or replaced."""
    text = json.dumps(draw(json_values(max_leaves=15)))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(['"a":1,', ",", '"', "\\", "{", "[", "]", "}", "NaN",
                                      "1e999", "12345678901234567890", "\\ud83d", ":", "-"]))
        how = draw(st.sampled_from(["insert", "delete", "replace"]))
        if how == "insert":
            text = text[:i] + piece + text[i:]
        elif how == "delete":
            text = text[:i] + text[i + len(piece):]
        else:
            text = text[:i] + piece + text[i + 1:]
    return text


@FUZZ
@given(spliced())
def test_mutated_documents_agree(text: str) -> None:
    check(text)


def test_the_oracle_tells_the_faults_apart() -> None:
    """The oracle is not vacuous: it accepts a document and refuses each fault."""
    assert oracle('{"a":[1,2.5,"x",null,true]}') == (True, {"a": [1, 2.5, "x", None, True]})
    for text, code in [('{"a":1,"a":2}', "input.duplicate_key"), ("[NaN]", "input.non_finite"),
                       ("[1e400]", "input.non_finite"),
                       ("[9007199254740993]", "input.integer_range"),
                       ("[" * 9 + "]" * 9, "input.too_deep"), ('["\\udc00"]', "input.malformed"),
                       ("[1,]", "input.malformed")]:
        ok, codes = oracle(text)
        assert not ok and code in codes, text
        with pytest.raises(InputError) as e:
            strictjson.loads(text, max_depth=MAX_DEPTH)
        assert e.value.code == code
