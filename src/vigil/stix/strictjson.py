"""Strict, fast JSON for untrusted input.

:func:`loads` accepts exactly RFC 8259 JSON text and additionally rejects what a
threat-intelligence exchange must never store or forward silently. Every fault is an
:class:`vigil.errors.InputError` with a stable ``code``, the RFC 6901 JSON ``pointer``
of the fault and, except for size, ``detail`` = ``{"line", "column", "offset"}``
(1-based line/column and 0-based offset, in characters of the decoded text):

* ``input.too_large`` (HTTP 413): more than ``max_bytes`` bytes; pointer ``""``.
* ``input.malformed``: not JSON, bad UTF-8, a BOM, a lone surrogate escape, trailing
  content; pointer of the innermost container open where reading stopped.
* ``input.duplicate_key``: an object names a member twice; pointer of the second one.
* ``input.non_finite``: ``NaN``, ``Infinity``, ``-Infinity`` or a number overflowing a
  double (``1e400``); pointer of the value.
* ``input.integer_range``: an integer literal beyond ±2**53 (not exact as a double,
  so not portable); pointer of the value.
* ``input.too_deep``: containers nested deeper than ``max_depth``; pointer of the
  first container too deep.

Design (speed): the valid case costs one pass of the C scanner of the standard
``json`` module, with hooks that see every object's member list (duplicates), every
integer literal (range), every float literal (overflow) and ``NaN``/``Infinity``;
nesting depth is then measured level by level over containers only (skipped when the
text holds fewer brackets than ``max_depth``). Only when a fault exists does a
pure-Python strict reader re-read the text to find the first fault in document order
and its JSON pointer, so the pointer costs nothing on valid input.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from itertools import chain, filterfalse
from typing import Any, NoReturn

import orjson

from vigil.errors import InputError

__all__ = ["MAX_SAFE_INTEGER", "check_size", "dumps", "loads", "pointer_join", "portable"]

MAX_SAFE_INTEGER = 2**53
"""Largest magnitude of an integer accepted (inclusive): beyond it a double is inexact."""

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64


def pointer_escape(token: str) -> str:
    """Escape one reference token for an RFC 6901 JSON pointer."""
    if "~" in token or "/" in token:
        return token.replace("~", "~0").replace("/", "~1")
    return token


def pointer_join(base: str, *tokens: str | int) -> str:
    """``pointer_join("/objects", 3, "name") == "/objects/3/name"``."""
    out = base
    for t in tokens:
        out += "/" + (str(t) if isinstance(t, int) else pointer_escape(t))
    return out


def dumps(obj: Any) -> bytes:
    """Compact JSON bytes (UTF-8, no spaces, keys in insertion order)."""
    return orjson.dumps(obj)


def loads(
    data: bytes | bytearray | memoryview | str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """Parse strict JSON; raise :class:`InputError` (see module doc) on any fault."""
    if isinstance(data, str):
        if len(data) > max_bytes:  # every character is at least one byte
            _too_large(max_bytes)
        text = data
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate inside a Python str
            _diagnose_prefix(data[: exc.start], max_depth)
            raise _malformed(
                data, exc.start, "lone surrogate", _Diagnoser.path_at(data[: exc.start])
            ) from None
        if len(raw) > max_bytes:
            _too_large(max_bytes)
    else:
        raw = bytes(data)
        if len(raw) > max_bytes:
            _too_large(max_bytes)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            prefix = raw[: exc.start].decode("utf-8", "replace")
            _diagnose_prefix(prefix, max_depth)  # a fault earlier in the text wins
            raise _malformed(
                prefix, len(prefix), "invalid UTF-8", _Diagnoser.path_at(prefix)
            ) from None
    try:
        value = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, _Fault, RecursionError
        _diagnose(text, max_depth, str(exc))
    if ("\\ud" in text or "\\uD" in text) and _lone_surrogate_escape(text):
        _diagnose(text, max_depth, "lone surrogate escape", must_find=False)
    if raw.count(b"{") + raw.count(b"[") > max_depth and _too_deep(value, max_depth):
        _diagnose(text, max_depth, "too deep")
    return value


class _Fault(ValueError):
    """Raised by the decoder hooks: the text has a fault; the diagnoser locates it."""


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _Fault("duplicate key")
    return d


def _parse_int(literal: str) -> int:
    if len(literal) > 17:  # > 2**53 for sure; also avoids int()'s digit limit
        raise _Fault("integer out of range")
    v = int(literal)
    if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
        return v
    raise _Fault("integer out of range")


def _parse_float(literal: str) -> float:
    v = float(literal)
    if math.isfinite(v):
        return v
    raise _Fault("number overflows a double")


def _parse_constant(literal: str) -> float:
    raise _Fault(f"{literal} is not JSON")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_pairs,
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_parse_constant,
    strict=True,
)

# a \\uD800-\\uDFFF escape whose backslash is not itself escaped (even backslashes before)
_SURROGATE_ESCAPE_RE = re.compile(r"(?<!\\)(?:\\\\)*(\\u[dD][89a-fA-F][0-9a-fA-F]{2})")


def _lone_surrogate_escape(text: str) -> bool:
    """True if some \\uD800-\\uDFFF escape is not part of a high+low pair."""
    pending_high = -1  # end offset of an unpaired high-surrogate escape
    for m in _SURROGATE_ESCAPE_RE.finditer(text):
        esc = m.group(1)
        high = esc[3] in "89abAB"
        if pending_high >= 0:
            if high or m.start(1) != pending_high:
                return True
            pending_high = -1
        elif high:
            pending_high = m.end(1)
        else:
            return True
    return pending_high >= 0


_is_str = str.__instancecheck__


def _too_deep(value: Any, max_depth: int) -> bool:
    """True if containers nest deeper than ``max_depth``: breadth-first over containers
    only, one pass of C-level iteration (chain/map/comprehension) per level. (Measured
    faster than computing the depth from the text with byte operations.)"""
    level: list[Any] = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        dicts = [x for x in level if type(x) is dict]
        lists = [x for x in level if type(x) is not dict]
        children = chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(lists))
        # strings are most of the values: drop them in C first
        level = [c for c in filterfalse(_is_str, children) if isinstance(c, (dict, list))]
    return False


def check_size(size: int, max_bytes: int) -> None:
    """Raise ``input.too_large`` (as :func:`loads` does) for more than ``max_bytes``."""
    if size > max_bytes:
        _too_large(max_bytes)


def portable(value: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> bool:
    """Whether :func:`loads` reads ``dumps(value)`` back as ``value``: containers nested
    at most ``max_depth`` deep, string keys, integers within ±``MAX_SAFE_INTEGER`` and
    finite floats only (``dumps`` writes a non-finite float as ``null``). For a value
    built in this process, which is then published without being parsed again."""
    level: list[Any] = [value] if isinstance(value, (dict, list)) else []
    if not level:
        return _portable_scalar(value)
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return False
        dicts = [x for x in level if type(x) is dict]
        lists = [x for x in level if type(x) is list]
        if len(dicts) + len(lists) < len(level):
            return False  # a container of another type (a tuple, a dict subclass)
        for d in dicts:
            if not all(map(_is_str, d)):
                return False
        children = chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(lists))
        level = []
        for c in filterfalse(_is_str, children):
            if isinstance(c, (dict, list)):
                level.append(c)
            elif not _portable_scalar(c):
                return False
    return True


def _portable_scalar(value: Any) -> bool:
    if value is None or value is True or value is False or type(value) is str:
        return True
    if type(value) is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    if type(value) is float:
        return math.isfinite(value)
    return False


def _too_large(max_bytes: int) -> NoReturn:
    raise InputError(
        f"input is larger than {max_bytes} bytes",
        code="input.too_large",
        status=413,
        pointer="",
        detail={"max_bytes": max_bytes},
    )


def _diagnose(text: str, max_depth: int, fast_reason: str, *, must_find: bool = True) -> None:
    """Locate the first fault with the slow strict reader and raise for it."""
    _Diagnoser(text, max_depth).run()
    if not must_find:
        return
    # The strict reader found nothing although the fast path objected: report the
    # fast path's reason rather than accepting (not expected to happen).
    raise InputError(f"invalid JSON: {fast_reason}", code="input.malformed", pointer="")


def _diagnose_prefix(prefix: str, max_depth: int) -> None:
    with contextlib.suppress(_EndOfPrefix):
        _Diagnoser(prefix, max_depth, partial=True).run()


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


def _malformed(text: str, offset: int, why: str, pointer: str) -> InputError:
    line, col = _line_col(text, offset)
    return InputError(
        f"invalid JSON at line {line} column {col}: {why}",
        code="input.malformed",
        pointer=pointer,
        detail={"line": line, "column": col, "offset": offset},
    )


# --- the slow, exact, strict parser used only to explain a fault -----------------

_TOKEN_RE = re.compile(
    r"""[ \t\r\n]*(?:
        (?P<str>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")
      | (?P<num>-?(?:0|[1-9][0-9]*)(?P<frac>\.[0-9]+)?(?P<exp>[eE][-+]?[0-9]+)?)
      | (?P<lit>true|false|null)
      | (?P<nonfinite>NaN|-?Infinity)
      | (?P<punct>[\[\]{}:,])
      | (?P<end>\Z)
    )""",
    re.VERBOSE,
)


def _escape_offset(lit: str, char_index: int) -> int:
    """Offset in a JSON string literal of the decoded character ``char_index``."""
    pos, n = 1, 0
    while pos < len(lit) - 1:
        if n == char_index:
            return pos
        if lit[pos] == "\\":
            step = 6 if lit[pos + 1] == "u" else 2
            if (
                step == 6
                and lit[pos + 2 : pos + 4].lower() in ("d8", "d9", "da", "db")
                and lit[pos + 6 : pos + 8].lower() in ("\\u",)
                and lit[pos + 8 : pos + 10].lower() in ("dc", "dd", "de", "df")
            ):
                step = 12
            pos += step
        else:
            pos += 1
        n += 1
    return pos


# parser states
_VALUE, _VALUE_OR_CLOSE, _KEY, _KEY_OR_CLOSE, _COLON, _NEXT, _END = range(7)


class _EndOfPrefix(Exception):
    """The prefix being diagnosed ended before any fault."""


class _Frame:
    __slots__ = ("index", "is_array", "key", "keys")

    def __init__(self, is_array: bool) -> None:
        self.is_array = is_array
        self.index = 0
        self.key: str | None = None
        self.keys: set[str] = set()


class _Diagnoser:
    """A strict JSON reader over ``str`` that raises :class:`InputError` at the first
    fault in document order, knowing the JSON pointer of every position. Pure Python
    (one regex match per token), iterative (no recursion limit): only used once the
    fast path has established that the text has a fault."""

    def __init__(self, text: str, max_depth: int, *, partial: bool = False) -> None:
        self.text = text
        self.max_depth = max_depth
        self.partial = partial  # text is only a prefix: running out is not a fault
        self.stack: list[_Frame] = []

    @staticmethod
    def path_at(prefix: str) -> str:
        """Pointer of the innermost container still open at the end of ``prefix``."""
        d = _Diagnoser(prefix, 1 << 30, partial=True)
        with contextlib.suppress(InputError, _EndOfPrefix):
            d.run()
        return d.container_pointer()

    def _tokens(self, frames: list[_Frame]) -> list[str | int]:
        out: list[str | int] = []
        for f in frames:
            if f.is_array:
                out.append(f.index)
            elif f.key is not None:
                out.append(f.key)
        return out

    def here(self) -> str:
        """Pointer of the value being read now."""
        return pointer_join("", *self._tokens(self.stack))

    def container_pointer(self) -> str:
        """Pointer of the innermost open container."""
        return pointer_join("", *self._tokens(self.stack[:-1]))

    def _fail(self, code: str, message: str, offset: int, pointer: str) -> NoReturn:
        line, col = _line_col(self.text, offset)
        raise InputError(
            f"{message} (line {line} column {col})",
            code=code,
            pointer=pointer,
            detail={"line": line, "column": col, "offset": offset},
        )

    def _malformed(self, offset: int, why: str) -> NoReturn:
        if self.partial and (offset >= len(self.text) or self.text[offset] == '"'):
            raise _EndOfPrefix
        raise _malformed(self.text, offset, why, self.container_pointer())

    def _check_string(self, lit: str, offset: int) -> str:
        """Decode a string literal; a lone surrogate escape is a fault."""
        value: str = json.loads(lit)
        if "\\u" in lit:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                # offset of the offending escape inside the literal
                self._malformed(offset + _escape_offset(lit, exc.start), "lone surrogate escape")
        return value

    def run(self) -> None:
        text = self.text
        stack = self.stack
        state = _VALUE
        pos = 0
        while True:
            m = _TOKEN_RE.match(text, pos)
            if m is None:
                start = pos
                while start < len(text) and text[start] in " \t\r\n":
                    start += 1
                self._malformed(start, "unexpected character")
            kind = m.lastgroup or "end"
            start = m.start(kind)
            pos = m.end()
            if kind == "end":
                if state == _END:
                    return
                if self.partial:
                    raise _EndOfPrefix
                self._malformed(start, "unexpected end of text")
            punct = m.group("punct") if kind == "punct" else ""
            if state in (_VALUE, _VALUE_OR_CLOSE):
                if punct == "[" or punct == "{":
                    if len(stack) + 1 > self.max_depth:
                        self._fail(
                            "input.too_deep",
                            f"containers nested deeper than {self.max_depth}",
                            start,
                            self.here(),
                        )
                    stack.append(_Frame(punct == "["))
                    state = _VALUE_OR_CLOSE if punct == "[" else _KEY_OR_CLOSE
                    continue
                if punct == "]" and state == _VALUE_OR_CLOSE:
                    stack.pop()
                    state = _NEXT if stack else _END
                    continue
                if punct:
                    self._malformed(start, f"unexpected {punct!r}")
                if kind == "nonfinite":
                    why = f"{m.group(kind)} is not a JSON number"
                    self._fail("input.non_finite", why, start, self.here())
                if kind == "num":
                    lit = m.group("num")
                    if m.group("frac") is None and m.group("exp") is None:
                        if len(lit.lstrip("-")) > 16 or abs(int(lit)) > MAX_SAFE_INTEGER:
                            self._fail(
                                "input.integer_range",
                                f"integer {lit[:40]} is outside ±2**53",
                                start,
                                self.here(),
                            )
                    elif not math.isfinite(float(lit)):
                        self._fail(
                            "input.non_finite",
                            f"number {lit[:40]} overflows a double",
                            start,
                            self.here(),
                        )
                elif kind == "str":
                    self._check_string(m.group("str"), start)
                state = _NEXT if stack else _END
            elif state in (_KEY, _KEY_OR_CLOSE):
                if kind == "str":
                    key = self._check_string(m.group("str"), start)
                    top = stack[-1]
                    top.key = key
                    if key in top.keys:
                        self._fail(
                            "input.duplicate_key",
                            f"duplicate member name {key[:80]!r}",
                            start,
                            self.here(),
                        )
                    top.keys.add(key)
                    state = _COLON
                elif punct == "}" and state == _KEY_OR_CLOSE:
                    stack.pop()
                    state = _NEXT if stack else _END
                else:
                    self._malformed(start, "expected a member name in double quotes")
            elif state == _COLON:
                if punct != ":":
                    self._malformed(start, "expected ':'")
                state = _VALUE
            elif state == _NEXT:
                top = stack[-1]
                if punct == ",":
                    if top.is_array:
                        top.index += 1
                        state = _VALUE
                    else:
                        top.key = None
                        state = _KEY
                elif (punct == "]" and top.is_array) or (punct == "}" and not top.is_array):
                    stack.pop()
                    state = _NEXT if stack else _END
                else:
                    self._malformed(start, "expected ',' or the end of the container")
            else:  # _END
                self._malformed(start, "unexpected content after the document")
