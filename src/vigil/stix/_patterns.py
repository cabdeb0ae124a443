"""STIX 2.1 patterning: a fast path for the common simple forms, ``stix2-patterns``
(the OASIS reference grammar) for everything else.

The fast path accepts only patterns it can prove valid: one or more observation
expressions ``[ ... ]`` joined by ``AND``/``OR``, each holding comparisons of a
standard SCO property with ``=``/``!=`` against a string literal, joined by
``AND``/``OR``, for example::

    [ipv4-addr:value = '198.51.100.7']
    [file:hashes.'SHA-256' = '...'] OR [file:hashes.MD5 = '...']
    [domain-name:value = 'x.example' OR url:value = 'http://x.example/a\\'b']
    [network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '…']
    [domain-name:value = 'x.example' AND domain-name:resolves_to_refs[*].value = '…']
    [(network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_port = '443')]
    [windows-registry-key:key = '…' AND windows-registry-key:values.data = '…']
    [email-message:body_multipart[*].body_raw_ref.name = 'a.zip']

(after the property, any object path of unquoted key steps and ``[*]``/``[n]`` index
steps -- through references, lists and dictionaries -- except keys that are lexer
keywords or ``hashes``, which the reference would check as a hash; ``hashes`` itself
takes one key, quoted or not, and a value of that hash's form; the comparisons of an
observation expression may sit in one pair of parentheses, as misp-stix writes some).
Like the reference checks, the fast path judges only the first property of a path
against the object type's properties. Anything else (qualifiers, other operators,
custom object types or properties, quoted keys other than a hash name, whitespace
inside a path, hash values that would fail the hash check, ...) goes to the
slow path, which runs exactly the checks the reference validator (``stix2-validator``)
runs: the ANTLR grammar and hash checks of ``stix2patterns.validator.run_validator``,
then the object type and property name checks of ``stix2validator.v21.musts.patterns``.

The work is bounded before either path runs: a pattern longer than
``MAX_PATTERN_CHARS`` or holding a quoted value longer than ``MAX_PATTERN_VALUE`` is
refused (``size_error``), and the validator lets the reference grammar (the slow
path, about 20 microseconds a character) parse at most ``SLOW_PATTERN_BUDGET``
characters of patterns per bundle.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_WS = r"[ \t\r\n]"
_STRING = r"'(?:[^'\\]|\\['\\])*'"
# An object path: a property, then key steps ``.name`` (unquoted) and index steps ``[*]``
# / ``[n]`` (the grammar's keyPathStep / indexPathStep, without the whitespace it allows
# between tokens), or, after ``hashes``, one quoted key.
_PATH = (
    r"(?P<type>[a-z][a-z0-9]*(?:-[a-z0-9]+)*):(?P<prop>[a-z_][a-z0-9_]*)"
    r"(?:(?P<steps>(?:\.[A-Za-z_][A-Za-z0-9_]*|\[(?:\*|0|[1-9][0-9]*)\])+)"
    r"|\.'(?P<hq>[A-Za-z0-9][A-Za-z0-9-]*)')?"
)
_COMPARISON_RE = re.compile(rf"{_WS}*{_PATH}{_WS}*(?:=|!=){_WS}*(?P<val>{_STRING})")
_SINGLE_RE = re.compile(
    rf"{_WS}*\[{_WS}*{_PATH}{_WS}*(?:=|!=){_WS}*(?P<val>{_STRING}){_WS}*\]{_WS}*\Z"
)
_KEY_STEP_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)")
_LITERAL_RE = re.compile(_STRING)
_OPEN_RE = re.compile(rf"{_WS}*\[")
_JOIN_RE = re.compile(rf"{_WS}+(?:AND|OR){_WS}+")
_CLOSE_RE = re.compile(rf"{_WS}*\]")
_PAREN_OPEN_RE = re.compile(rf"{_WS}*\(")
_PAREN_CLOSE_RE = re.compile(rf"{_WS}*\)")
_END_RE = re.compile(rf"{_WS}*\Z")

# stix2patterns' hash checks, keyed by the hash name upper-cased without '-'/quotes.
_HEX_LEN = {
    "MD5": 32,
    "SHA1": 40,
    "SHA256": 64,
    "SHA512": 128,
    "SHA3256": 64,
    "SHA3512": 128,
    "SHA224": 56,
    "SHA384": 96,
    "SHA3224": 56,
    "SHA3384": 96,
    "RIPEMD160": 40,
    "WHIRLPOOL": 128,
}
_SSDEEP_RE = re.compile(r"[a-zA-Z0-9/+:.]{1,128}\Z")
_HEX_RE = re.compile(r"[a-fA-F0-9]+\Z")
_CHECKED_ELSEWHERE = frozenset({"MD6"})  # odd regex upstream: always take the slow path

TYPE_FORMAT_RE = re.compile(r"-?[a-z0-9]+(?:-[a-z0-9]+)*-?\Z")
PROPERTY_FORMAT_RE = re.compile(r"[a-z0-9_]{3,250}\Z")


MAX_PATTERN_CHARS = 64 * 1024  # characters of one pattern
# characters of one quoted value (MISP puts small attachments inline, base64)
MAX_PATTERN_VALUE = 32 * 1024
SLOW_PATTERN_BUDGET = 256 * 1024  # pattern characters the reference grammar parses per bundle


def size_error(pattern: str) -> str | None:
    """Why ``pattern`` is too large to check (None: it is not)."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"pattern is over {MAX_PATTERN_CHARS} characters"
    if len(pattern) <= MAX_PATTERN_VALUE + 2:
        return None  # no room for a quoted value over the limit
    for m in _LITERAL_RE.finditer(pattern):
        if m.end() - m.start() - 2 > MAX_PATTERN_VALUE:
            return f"a value in the pattern is over {MAX_PATTERN_VALUE} characters"
    return None


def _hash_ok(name: str, literal: str) -> bool:
    key = name.upper().replace("-", "")
    if key in _CHECKED_ELSEWHERE:
        return False
    value = literal[1:-1]
    n = _HEX_LEN.get(key)
    if n is not None:
        return len(value) == n and _HEX_RE.match(value) is not None
    if key == "SSDEEP":
        return _SSDEEP_RE.match(value) is not None
    return True


def _comparison_ok(c: re.Match[str], sco_properties: Mapping[str, frozenset[str]]) -> bool:
    props = sco_properties.get(c.group("type"))
    prop = c.group("prop")
    if props is None or prop not in props:
        return False
    steps = c.group("steps")
    if prop == "hashes":  # exactly one key, the hash name, and a value of its form
        hname = c.group("hq")
        if hname is None and steps is not None and steps.count(".") == 1 and "[" not in steps:
            hname = steps[1:]
            if hname in _KEYWORDS:
                return False
        return hname is not None and _hash_ok(hname, c.group("val"))
    if steps is None:  # a quoted key (only after hashes) or no step at all
        return c.group("hq") is None
    # Key steps through references, lists and dictionaries. A key named 'hashes'
    # anywhere in the path makes the reference check the last key as a hash name.
    names = _KEY_STEP_RE.findall(steps)
    return all(name not in _KEYWORDS and name != "hashes" for name in names)


# Lexer keywords of the STIX 2.1 pattern grammar: never a bare path component.
_KEYWORDS = frozenset(
    (
        "AND",
        "OR",
        "NOT",
        "FOLLOWEDBY",
        "LIKE",
        "MATCHES",
        "ISSUPERSET",
        "ISSUBSET",
        "EXISTS",
        "LAST",
        "IN",
        "START",
        "STOP",
        "SECONDS",
        "WITHIN",
        "REPEATS",
        "TIMES",
        "true",
        "false",
    )
)


WS = _WS


def scan_simple(pattern: str, comparison: re.Pattern[str],
                single: re.Pattern[str] | None = None,
                parens: bool = False) -> list[re.Match[str]] | None:
    """The matches of ``comparison`` in a pattern of the simple forms -- bracketed
    observation expressions of comparisons joined by AND/OR, themselves joined by
    AND/OR -- or None if the pattern is not of those forms. ``single`` recognises the
    commonest form, one bracketed comparison, in one step. ``parens``: the
    comparisons inside a bracket may be wrapped in one pair of parentheses."""
    if single is not None:
        one = single.match(pattern)
        if one is not None:
            return [one]
    out: list[re.Match[str]] = []
    pos = 0
    while True:
        m = _OPEN_RE.match(pattern, pos)
        if m is None:
            return None
        pos = m.end()
        paren = _PAREN_OPEN_RE.match(pattern, pos) if parens else None
        if paren is not None:
            pos = paren.end()
        while True:
            c = comparison.match(pattern, pos)
            if c is None:
                return None
            out.append(c)
            pos = c.end()
            j = _JOIN_RE.match(pattern, pos)
            if j is None:
                break
            pos = j.end()
        if paren is not None:
            m = _PAREN_CLOSE_RE.match(pattern, pos)
            if m is None:
                return None
            pos = m.end()
        m = _CLOSE_RE.match(pattern, pos)
        if m is None:
            return None
        pos = m.end()
        if _END_RE.match(pattern, pos):
            return out
        j = _JOIN_RE.match(pattern, pos)
        if j is None:
            return None
        pos = j.end()


def fast_valid(pattern: str, sco_properties: Mapping[str, frozenset[str]]) -> bool:
    """True if ``pattern`` is one of the simple forms and valid. False means only
    "not decided here": the caller must run :func:`slow_errors`."""
    found = scan_simple(pattern, _COMPARISON_RE, _SINGLE_RE, parens=True)
    return found is not None and all(_comparison_ok(c, sco_properties) for c in found)


def slow_errors(
    pattern: str, version: str, sco_properties: Mapping[str, frozenset[str]]
) -> list[str]:
    """The reference checks (grammar, hashes, qualifiers, object types and property
    names); an empty list means valid."""
    from stix2patterns.v21.pattern import Pattern
    from stix2patterns.validator import run_validator

    if not pattern.strip():
        return ["the pattern is empty"]
    try:
        errors: list[str] = [str(e) for e in run_validator(pattern, version)]
    except Exception as exc:  # stix2patterns crashes on some garbage
        return [f"pattern does not parse: {type(exc).__name__}"]
    if errors:
        return errors
    try:
        comparisons: dict[str, Any] = Pattern(pattern).inspect().comparisons
    except Exception as exc:  # the 2.1 grammar refused a pattern valid in 2.0
        return [f"pattern does not parse as STIX 2.1: {exc}"]
    for objtype, expressions in comparisons.items():
        props = sco_properties.get(objtype)
        if props is None and (
            TYPE_FORMAT_RE.match(objtype) is None or not 3 <= len(objtype) <= 250
        ):
            errors.append(f"'{objtype}' is not a valid observable type name")
        for path, _op, _value in expressions:
            prop = path[0]
            if props is not None and prop in props:
                continue
            if not isinstance(prop, str) or PROPERTY_FORMAT_RE.match(prop) is None:
                errors.append(f"'{prop}' is not a valid observable property name")
    return errors
