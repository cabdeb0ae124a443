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
  first container too deep. (orjson itself stops at 1024 levels.)

Design (speed): the valid case costs one ``orjson.loads`` plus a few C-level passes
over the bytes: string literals are blanked with one regular-expression substitution,
leaving only the structure; the member names are counted there and compared with the
count in ``orjson.dumps`` of the parsed value (a duplicate member is the only way they
can differ); depth is measured by peeling empty ``{}``/``[]`` pairs, once per level;
integer literals are range-checked only if a run of 16+ digits exists outside strings.
Only when one of these finds a fault does a pure-Python strict reader re-read the text
to locate the first fault in document order and its pointer.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from typing import Any, NoReturn

import orjson

from vigil.errors import InputError

__all__ = ["MAX_SAFE_INTEGER", "dumps", "loads", "pointer_join"]

MAX_SAFE_INTEGER = 2**53
"""Largest magnitude of an integer accepted (inclusive): beyond it a double is inexact."""

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64

# A JSON string literal, unrolled-loop form (fast in sre). It is only applied to text
# orjson has already accepted, so it never needs to handle malformed strings.
_STRING_RE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_WS = b" \t\r\n"
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_EMPTY_PAIR_RE = re.compile(rb"\{\}|\[\]")
_LONG_DIGITS_RE = re.compile(rb"[0-9]{16,}")
_NUMBER_RE = re.compile(rb"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


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
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError as exc:  # a lone surrogate inside a Python str
            _diagnose_prefix(data[: exc.start], max_depth)
            raise _malformed(
                data, exc.start, "lone surrogate", _Diagnoser.path_at(data[: exc.start])
            ) from None
    else:
        raw = bytes(data)
    if len(raw) > max_bytes:
        _too_large(max_bytes)
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        _diagnose(raw, max_depth, str(exc))
    if not isinstance(value, (dict, list)):
        # A scalar document: only the number checks can apply.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_numbers(raw, raw, max_depth)
        return value
    structure = _STRING_RE.sub(b'"', raw).translate(None, _WS)
    if structure.count(b'":') != _key_count(orjson.dumps(value)):
        _diagnose(raw, max_depth, "duplicate key")
    if structure.count(b"{") + structure.count(b"[") > max_depth and _depth(structure) > max_depth:
        _diagnose(raw, max_depth, "too deep")
    _check_numbers(structure, raw, max_depth)
    return value


def _too_large(max_bytes: int) -> NoReturn:
    raise InputError(
        f"input is larger than {max_bytes} bytes",
        code="input.too_large",
        status=413,
        pointer="",
        detail={"max_bytes": max_bytes},
    )


def _key_count(canonical: bytes) -> int:
    return _STRING_RE.sub(b'"', canonical).count(b'":')


def _depth(structure: bytes) -> int:
    """Maximum nesting depth of a blanked, whitespace-free JSON text."""
    s = structure.translate(None, _NOT_BRACKETS)
    depth = 0
    while s:
        s = _EMPTY_PAIR_RE.sub(b"", s)
        depth += 1
    return depth


def _check_numbers(structure: bytes, raw: bytes, max_depth: int) -> None:
    if _LONG_DIGITS_RE.search(structure) is None:
        return
    for m in _NUMBER_RE.finditer(structure):
        if m.group(1) is None and m.group(2) is None and abs(int(m.group(0))) > MAX_SAFE_INTEGER:
            _diagnose(raw, max_depth, "integer out of range")


def _diagnose(raw: bytes, max_depth: int, fast_reason: str) -> NoReturn:
    """Locate the first fault with the slow strict parser and raise for it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = raw[: exc.start].decode("utf-8", "replace")
        _diagnose_prefix(prefix, max_depth)  # a fault earlier in the text wins
        raise _malformed(prefix, len(prefix), "invalid UTF-8", _Diagnoser.path_at(prefix)) from None
    _Diagnoser(text, max_depth).run()
    # The strict parser found nothing although the fast path objected: report the
    # fast path's reason rather than accepting (should not happen).
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
_SURROGATE_ESCAPE_RE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?|\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)

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

    def _check_string(self, lit: str, offset: int) -> None:
        if "\\u" in lit:
            for m in _SURROGATE_ESCAPE_RE.finditer(lit):
                if len(m.group(0)) != 12:
                    self._malformed(offset + m.start(), "lone surrogate escape in string")

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
                        if abs(int(lit)) > MAX_SAFE_INTEGER:
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
                    lit = m.group("str")
                    self._check_string(lit, start)
                    key: str = json.loads(lit)
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
