"""Fuzzing the STIX pattern scanner (vigil.stix._patterns).

Properties: the scanner and the reference checks never raise, whatever the text;
the fast path only accepts patterns the reference checks (the OASIS grammar,
stix2-validator's property checks) accept, so taking it never changes a verdict; and
``scan_simple`` finds exactly the comparisons a simple pattern was built from.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st
from tests.stix.corpus import PATTERNS

from vigil.stix import _patterns
from vigil.stix.validate import SCO_PROPERTY_NAMES

from .strategies import FUZZ

WS = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\v"])
OBJECT = st.sampled_from(["ipv4-addr", "domain-name", "url", "file", "x-acme", "email-message",
                          "network-traffic", "X-Bad", "a", "windows-registry-key", "ab--c"])
PROP = st.sampled_from(["value", "name", "hashes.MD5", "hashes.'SHA-256'", "hashes.SHA-256",
                        "hashes.SSDEEP", "hashes.MD6", "hashes.AND", "size", "x_acme_a",
                        "Name", "ab", "extensions.'x'.y", "from_ref.value", "hashes.'x'",
                        "dst_ref.type", "dst_ref.value", "dst_ref.AND", "dst_ref.true",
                        "dst_ref.hashes", "src_ref.'value'", "dst_ref.Value", "value.x",
                        "resolves_to_refs[*].value", "dst_ref.value.x", "values.data",
                        "values[*].name", "values[0].data", "values[00].data",
                        "values[-1].data", "values[+1].data", "values[ * ].data",
                        "body_multipart[*].body_raw_ref.name",
                        "body_multipart[3].body_raw_ref.name", "body_multipart[*]",
                        "body_multipart[*].body_raw_ref.hashes.MD5",
                        "body_multipart[*].body_raw_ref.'name'",
                        "body_multipart[*].body_raw_ref.OR", "body_multipart[*]..name",
                        "body_multipart[*].body-raw-ref.name", "key.x_y[2]"])
OP = st.sampled_from(["=", "!=", "==", "<", ">=", "LIKE", "MATCHES", "IN", "ISSUBSET", "="])
VALUE = st.sampled_from(["'a'", "''", "'" + "a" * 32 + "'", "'" + "0" * 64 + "'",
                         "'it\\'s'", "'a\\\\b'", "'a\\qb'", "'3:ab+/:c'", "1", "-1", "true",
                         "t'2016-01-01T00:00:00Z'", "b'aGk='", "h'0a'", "('a', 'b')",
                         "'\u00e9\U0001f600'", "'unterminated", "'a''b'"]) \
    | st.text(max_size=12).map(lambda s: "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'")
JOIN = st.sampled_from(["AND", "OR", "and", "FOLLOWEDBY", "AND NOT", ","])
QUALIFIER = st.sampled_from(["", " WITHIN 5 SECONDS", " REPEATS 2 TIMES", " WITHIN -1 SECONDS",
                             " START t'2016-01-01T00:00:00Z' STOP t'2016-01-02T00:00:00Z'"])


@st.composite
def comparisons(draw: st.DrawFn) -> str:
    return (draw(WS) + draw(OBJECT) + ":" + draw(PROP) + draw(WS) + draw(OP) + draw(WS)
            + draw(VALUE) + draw(WS))


@st.composite
def patterns(draw: st.DrawFn) -> str:
    observations = []
    for _ in range(draw(st.integers(1, 3))):
        inner = comparisons()
        parts = [draw(inner)]
        for _ in range(draw(st.integers(0, 2))):
            parts.append(" " + draw(JOIN) + " " + draw(inner))
        obs = draw(WS) + "[" + "".join(parts) + "]" + draw(QUALIFIER)
        if draw(st.integers(0, 5)) == 0:
            obs = "(" + obs + ")"
        observations.append(obs)
    text = (" " + draw(JOIN) + " ").join(observations) + draw(WS)
    if draw(st.integers(0, 4)) == 0:  # a splice of garbage
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(["[", "]", "'", ":", "\\", "(", ")", ""])) \
            + text[i + draw(st.integers(0, 2)):]
    return text


def _agree(pattern: str) -> None:
    found = _patterns.scan_simple(pattern, _patterns._COMPARISON_RE, _patterns._SINGLE_RE)
    assert found is None or all(m.group("val").startswith("'") for m in found)
    errors = _patterns.slow_errors(pattern, "2.1", SCO_PROPERTY_NAMES)
    assert isinstance(errors, list) and all(isinstance(e, str) for e in errors)
    if _patterns.fast_valid(pattern, SCO_PROPERTY_NAMES):
        assert errors == [], f"the fast path accepts {pattern!r}; the reference: {errors}"


@FUZZ
@given(patterns())
@example("[ipv4-addr:value = '198.51.100.7']")
@example("[file:hashes.'SHA-256' = '" + "a" * 63 + "']")
@example("[windows-registry-key:values.data = 'a']")
@example("[email-message:body_multipart[*].body_raw_ref.name = 'a.zip']")
@example("[email-message:body_multipart[*].body_raw_ref.hashes.MD5 = 'a']")
@example("[email-message:body_multipart[-1].body_raw_ref.name = 'a']")
@example("[email-message:body_multipart[01].body_raw_ref.name = 'a']")
def test_the_fast_path_agrees_with_the_reference(pattern: str) -> None:
    _agree(pattern)


@FUZZ
@given(st.text(max_size=60) | st.sampled_from(PATTERNS).flatmap(
    lambda p: st.tuples(st.integers(0, len(p)), st.text(max_size=4))
    .map(lambda t: p[:t[0]] + t[1] + p[t[0] + 1:])))
def test_any_text_is_judged_without_crashing(pattern: str) -> None:
    _agree(pattern)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["ipv4-addr:value", "domain-name:value",
                                           "file:hashes.'SHA-256'", "url:value"]),
                          st.text(max_size=10)), min_size=1, max_size=4),
       st.lists(st.sampled_from(["AND", "OR"]), min_size=3, max_size=3),
       st.sampled_from(["", " ", "\t", "\n", "\r\n"]))
def test_scan_simple_finds_the_comparisons_it_was_built_from(
        comps: list[tuple[str, str]], joins: list[str], ws: str) -> None:
    def lit(s: str) -> str:
        return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"

    text = ""
    for i, (path, value) in enumerate(comps):
        text += (f" {joins[i % 3]} " if i else "") + f"[{ws}{path}{ws}={ws}{lit(value)}{ws}]"
    found = _patterns.scan_simple(text, _patterns._COMPARISON_RE, _patterns._SINGLE_RE)
    assert found is not None
    assert [m.group("val") for m in found] == [lit(v) for _, v in comps]
