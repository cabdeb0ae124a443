"""The pattern checks of the STIX validator (``vigil.stix._patterns``): the fast path for the
simple forms never accepts what the reference grammar (stix2-patterns) refuses, and the sizes
and the amount the grammar parses are bounded."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vigil.errors import StixError
from vigil.stix import _patterns
from vigil.stix.validate import SCO_PROPERTY_NAMES, validate_bundle

from .conftest import make_bundle, make_indicator
from .corpus import PATTERNS


@pytest.mark.parametrize("pattern", PATTERNS)
def test_fast_path_never_accepts_what_the_grammar_refuses(pattern: str) -> None:
    if _patterns.fast_valid(pattern, SCO_PROPERTY_NAMES):
        assert _patterns.slow_errors(pattern, "2.1", SCO_PROPERTY_NAMES) == []


def test_fast_path_takes_one_step_through_a_reference_as_misp_writes_it() -> None:
    misp = (
        "[network-traffic:dst_ref.type = 'ipv4-addr' AND "
        "network-traffic:dst_ref.value = '198.51.100.7']"
    )
    assert _patterns.fast_valid(misp, SCO_PROPERTY_NAMES)
    # the reference judges only the first property: a step after a plain one is valid
    port = misp.replace("dst_ref.type", "dst_port.type")
    assert _patterns.fast_valid(port, SCO_PROPERTY_NAMES)
    assert _patterns.slow_errors(port, "2.1", SCO_PROPERTY_NAMES) == []
    for pattern in (
        misp.replace("dst_ref.type", "dst_ref.AND"),
        misp.replace("dst_ref.type", "dst_ref.true"),
        misp.replace("dst_ref.type", "dst_ref.hashes"),
        misp.replace("dst_ref.type", "dst_ref.'type'"),
        misp.replace("dst_ref.type", "x_ref.type"),
    ):
        assert not _patterns.fast_valid(pattern, SCO_PROPERTY_NAMES), pattern
        test_fast_path_never_accepts_what_the_grammar_refuses(pattern)


def test_fast_path_takes_misp_list_steps_and_parentheses() -> None:
    """misp-stix writes ``resolves_to_refs[*].value``, ``to_refs[*].value``,
    ``values.data`` (registry key values), ``body_multipart[*].body_raw_ref.name``
    (attachments) and ``[( ... )]``: the fast path takes those forms and other object
    paths of key and index steps, all valid for the reference too."""
    taken = [
        "[domain-name:value = 'a.example' AND "
        "domain-name:resolves_to_refs[*].value = '198.51.100.7']",
        "[email-message:to_refs[*].value = 'b@example.org']",
        "[(network-traffic:dst_ref.type = 'ipv4-addr' AND "
        "network-traffic:dst_ref.value = '198.51.100.7')]",
        "[(domain-name:value = 'a')] OR [(url:value = 'http://b.example/')]",
        "[windows-registry-key:key = 'HKLM\\\\Software\\\\x' AND "
        "windows-registry-key:values.data = '%TEMP%\\\\a.exe']",
        "[windows-registry-key:values[*].name = 'Run']",
        "[email-message:body_multipart[*].body_raw_ref.name = 'invoice.zip']",
        "[(email-message:body_multipart[0].body_raw_ref.name = 'a.zip')]",
        "[email-message:body_multipart[12].content_type = 'text/plain']",
        "[domain-name:resolves_to_refs[*] = 'a']",
        "[domain-name:value[*].x = 'a']",
        "[domain-name:resolves_to_refs[0].value = 'a']",
        "[file:extensions.ntfs_ext.alternate_data_streams[*].name = 'a']",
    ]
    for pattern in taken:
        assert _patterns.fast_valid(pattern, SCO_PROPERTY_NAMES), pattern
        assert _patterns.slow_errors(pattern, "2.1", SCO_PROPERTY_NAMES) == [], pattern
    for pattern in [
        "[domain-name:resolves_to_refs[*].AND = 'a']",
        "[domain-name:resolves_to_refs[*].hashes = 'a']",
        "[domain-name:resolves_to_refs[*].'value' = 'a']",
        "[email-message:body_multipart[*].body_raw_ref.hashes.MD5 = 'a']",  # a hash check
        "[email-message:body_multipart[*].body_raw_ref.'name' = 'a']",
        "[email-message:body_multipart[*] .body_raw_ref.name = 'a']",
        "[email-message:body_multipart[-1].body_raw_ref.name = 'a']",
        "[email-message:body_multipart[01].body_raw_ref.name = 'a']",
        "[email-message:body_multipart[+1].body_raw_ref.name = 'a']",
        "[email-message:body_multipart[].body_raw_ref.name = 'a']",
        "[email-message:body_multipart[*].body-raw.name = 'a']",
        "[windows-registry-key:values.true = 'a']",
        "[windows-registry-key:x_values.data = 'a']",
        "[file:hashes.MD5.x = 'a']",
        "[file:hashes[*] = 'a']",
        "[(domain-name:value = 'a']",
        "[domain-name:value = 'a')]",
        "[((domain-name:value = 'a'))]",
        "[()]",
        "[(domain-name:value = 'a') AND (url:value = 'b')]",
        "([domain-name:value = 'a'])",
    ]:
        assert not _patterns.fast_valid(pattern, SCO_PROPERTY_NAMES), pattern
        test_fast_path_never_accepts_what_the_grammar_refuses(pattern)


_TYPES = st.sampled_from(
    [
        "ipv4-addr",
        "domain-name",
        "url",
        "file",
        "x-acme",
        "email-addr",
        "network-traffic",
        "mutex",
        "windows-registry-key",
        "email-message",
    ]
)
_PROPS = st.sampled_from(
    [
        "value",
        "name",
        "hashes.MD5",
        "hashes.'SHA-256'",
        "hashes.SHA1",
        "hashes.'SSDEEP'",
        "hashes.TLSH",
        "Value",
        "ab",
        "start",
        "pid",
        "resolves_to_refs[*].value",
        "to_refs[*].value",
        "dst_ref[*].value",
        "resolves_to_refs[*].hashes",
        "values.data",
        "values[*].name",
        "values[0].data_type",
        "body_multipart[*].body_raw_ref.name",
        "body_multipart[1].body_raw_ref.hashes.MD5",
        "body_multipart[*].body_raw_ref.hashes.'SHA-256'",
        "body_multipart[01].body_raw_ref.name",
        "body_multipart[-1].content_type",
        "body_multipart[*]",
        "extensions.ntfs_ext.alternate_data_streams[*].hashes.SHA1",
        "key",
    ]
)
_VALUES = st.one_of(
    st.text(alphabet="ab'\\ \t:.[]()=", max_size=8).map(lambda s: "'" + s + "'"),
    st.sampled_from(
        [
            "'" + "a" * 32 + "'",
            "'" + "0" * 64 + "'",
            "'" + "f" * 40 + "'",
            "'3:ab+c:d'",
            "''",
            "'a\\'b'",
            "'a\\\\'",
            "1",
            "true",
        ]
    ),
)
_COMPARISON = st.builds(
    lambda t, p, op, v: f"{t}:{p} {op} {v}",
    _TYPES,
    _PROPS,
    st.sampled_from(["=", "!=", "LIKE", "=="]),
    _VALUES,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(_COMPARISON, min_size=1, max_size=3), min_size=1, max_size=3),
    st.sampled_from([" AND ", " OR ", " and ", "AND"]),
    st.booleans(),
)
@example(groups=[["domain-name:resolves_to_refs[*].value = 'a'"]], join=" AND ", paren=True)
def test_fast_path_agrees_with_stix2_patterns(
    groups: list[list[str]], join: str, paren: bool
) -> None:
    wrap = "[({})]" if paren else "[{}]"
    pattern = " OR ".join(wrap.format(join.join(g)) for g in groups)
    if _patterns.fast_valid(pattern, SCO_PROPERTY_NAMES):
        assert _patterns.slow_errors(pattern, "2.1", SCO_PROPERTY_NAMES) == [], pattern


def test_pattern_sizes_are_bounded_before_any_parser_runs() -> None:
    huge = "[domain-name:value = '" + "a" * (30 * 1024 * 1024) + "']"
    assert _patterns.size_error(huge) is not None
    limit = _patterns.MAX_PATTERN_VALUE
    assert _patterns.size_error("[url:value = '" + "a" * (limit + 1) + "']") is not None
    assert _patterns.size_error("[url:value = '" + "a" * limit + "']") is None
    assert _patterns.size_error("[url:value = '" + "a" * 4240 + "']") is None  # MISP inline
    # the shortest pattern that can hold a value over the limit is that value alone
    assert _patterns.size_error("'" + "a" * (limit + 1) + "'") is not None
    assert _patterns.size_error("'" + "a" * limit + "'") is None
    doc = make_bundle(1)
    doc["objects"][0]["pattern"] = huge
    with pytest.raises(StixError) as e:
        validate_bundle(doc)
    assert (e.value.code, e.value.pointer) == ("stix.pattern_too_large", "/objects/0/pattern")


def test_the_reference_grammar_parses_a_bounded_amount_per_bundle() -> None:
    slow = " OR ".join(["[file:name MATCHES '" + "a" * 4000 + "']"] * 3)  # not a simple form
    n = _patterns.SLOW_PATTERN_BUDGET // len(slow) + 2
    doc = make_bundle(n)
    for obj in doc["objects"]:
        obj["pattern"] = slow
    with pytest.raises(StixError) as e:
        validate_bundle(doc)
    problems = e.value.detail["problems"]
    assert {p["code"] for p in problems} == {"stix.pattern_too_large"}
    assert len(problems) == 2  # every pattern past the budget, none before it


def test_the_common_indicator_patterns_take_the_fast_path() -> None:
    for i in range(10):
        assert _patterns.fast_valid(make_indicator(i)["pattern"], SCO_PROPERTY_NAMES)
