"""``vigil.interop.misp_sdo.ready`` writes what stix2 serialises for the same
arguments, or declines (None) where stix2 would convert, refuse or make up a value."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from stix2.v21 import (
    AttackPattern,
    Campaign,
    CourseOfAction,
    Identity,
    IntrusionSet,
    Malware,
    ThreatActor,
    Tool,
    Vulnerability,
)
from tests.interop.misp_cases import _attributes_event, _both

from vigil.interop.misp_sdo import (
    custom_attribute,
    direct_types,
    pattern_language_types,
    ready,
    unmapped_types,
)

AT = datetime(2020, 5, 6, 7, 8, 9, tzinfo=UTC)
UID = "7cdff317-a673-4474-84ec-4f1754947823"
OLD = "7cdff317-a673-1474-04ec-4f1754947823"  # not an RFC 4122 variant


def _custom_galaxy() -> Any:
    from misp_stix_converter.misp2stix.misp_to_stix21 import CustomGalaxyCluster

    return CustomGalaxyCluster


def _stix2(cls: Any, args: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return dict(json.loads(cls(**dict(args)).serialize()))
    except Exception:
        return None


def _args(cls: Any, **more: Any) -> dict[str, Any]:
    kind = cls._type
    out: dict[str, Any] = {"id": f"{kind}--{UID}", "type": kind, "name": "Sofacy",
                           "labels": ['misp:galaxy-name="Threat Actor"'],
                           "interoperability": True, "created": AT, "modified": AT}
    if cls is Malware:
        out["is_family"] = False
    if cls is Identity:
        out["identity_class"] = "class"
    if kind == "x-misp-galaxy-cluster":
        out = {"id": f"{kind}--{UID}", "labels": ["x"], "x_misp_name": "n",
               "x_misp_type": "t", "x_misp_value": "v", "x_misp_description": "d",
               "interoperability": True, "created": AT, "modified": AT}
    out.update(more)
    return out


CLASSES = [AttackPattern, Campaign, CourseOfAction, Identity, IntrusionSet, Malware,
           ThreatActor, Tool, Vulnerability]


@pytest.mark.parametrize("cls", CLASSES)
def test_plain_arguments_equal_stix2(cls: Any) -> None:
    args = _args(cls, description="it's", aliases=["APT 28", "Fancy Bear"],
                 external_references=[{"external_id": "T1566", "source_name": "mitre-attack"},
                                      {"source_name": "url", "url": "https://x.example"}],
                 kill_chain_phases=[{"phase_name": "p", "kill_chain_name": "k"}],
                 created_by_ref=f"identity--{UID}",
                 object_marking_refs=["marking-definition--613f2e26-407d-48c7-9eca-"
                                      "b8e91df99dc9"],
                 x_misp_country=["RU"], x_misp_meta={"a": [1, 2.5, None, True]},
                 allow_custom=True)
    known = set(cls._properties)
    args = {k: v for k, v in args.items() if k in known or k.startswith("x_") or
            k in ("allow_custom", "interoperability")}
    want = _stix2(cls, args)
    got = ready(cls, args)
    assert want is not None and got is not None
    assert got == want
    assert list(got) == list(want)  # and in stix2's order


def test_custom_galaxy_cluster_equals_stix2() -> None:
    cls = _custom_galaxy()
    for more in ({}, {"x_misp_meta": {"refs": ["https://x.example"], "status": "Active"}},
                 {"x_misp_meta": {"bad key": "x"}}, {"x_misp_meta": {}},
                 {"created_by_ref": f"identity--{UID}"}):
        args = _args(cls, **more)
        want, got = _stix2(cls, args), ready(cls, args)
        assert got is None or got == want, more
        if more in ({}, {"created_by_ref": f"identity--{UID}"}):
            assert got == want and got is not None and list(got) == list(want)


@pytest.mark.parametrize("change", [
    {"created": AT.replace(microsecond=1000)},  # stix2's precision
    {"created": AT.astimezone(timezone(timedelta(hours=2)))},
    {"created": "2020-05-06T07:08:09Z"},
    {"created": None},  # stix2 makes one up
    {"name": 5},  # stix2 makes a string of it
    {"aliases": "APT 28"},  # stix2 makes a list of it
    {"aliases": ["a", 1]},
    {"revoked": False},  # a default stix2 leaves out
    {"confidence": 50},
    {"x_misp_thing": "x"},  # custom without allow_custom: stix2 refuses it
    {"external_references": [{"source_name": "x"}]},  # stix2 refuses it
    {"external_references": [{"source_name": "x", "hashes": {"MD5": "0" * 32}}]},
    {"external_references": "https://x.example"},
    {"kill_chain_phases": [{"phase_name": "p"}]},
    {"id": f"malware--{OLD}", "interoperability": False},
    {"id": f"tool--{UID}"},  # another type's id
    {"created_by_ref": f"malware--{UID}"},
    {"first_seen": AT},
])
def test_other_arguments_are_left_to_stix2(change: dict[str, Any]) -> None:
    args = _args(Malware, **change)
    if change.get("created", AT) is None:
        args.pop("created")
    assert ready(Malware, args) is None
    assert ready(Malware, _args(Malware)) is not None


def test_random_arguments_equal_stix2_or_are_declined() -> None:
    """Random arguments from a pool of plain and odd values: whenever ``ready``
    writes an object, stix2 writes the same one; it writes most plain ones."""
    rng = random.Random(20261207)
    pool: dict[str, list[Any]] = {
        "description": ["d", "", "l'été", 3],
        "aliases": [["a"], ["a", "b"], [], "a", ["a", None]],
        "labels": [["x"], ['misp:galaxy-type="tool"', "y"], []],
        "external_references": [[{"source_name": "s", "url": "u"}],
                                [{"source_name": "s", "description": "d",
                                  "external_id": "e"}], [{"source_name": "s"}], []],
        "x_misp_refs": [["u"], "u", [], {"k": "v"}, float("nan")],
        "x_misp_synonyms": [["s"], None],
        "allow_custom": [True, False],
        "is_family": [True, False, "true"],
        "tool_types": [["remote-access"], ["x"], "x"],
        "threat_actor_types": [["spy"]],
    }
    written = 0
    for i in range(400):
        cls = CLASSES[i % len(CLASSES)]
        args = _args(cls)
        for key in rng.sample(sorted(pool), rng.randint(1, 5)):
            args[key] = rng.choice(pool[key])
        got = ready(cls, args)
        if got is not None:
            written += 1
            assert got == _stix2(cls, args), (cls, args)
    assert written >= 40  # most others are refused by stix2 too (a property of another type)


def test_custom_misp_object_equals_stix2() -> None:
    from misp_stix_converter.misp2stix.misp_to_stix21 import CustomMispObject

    kind = "x-misp-object"
    base = {"id": f"{kind}--{UID}", "labels": ['misp:name="pe-section"'], "created": AT,
            "modified": AT, "x_misp_name": "pe-section", "x_misp_meta_category": "file",
            "interoperability": True, "x_misp_attributes": [
                {"type": "text", "object_relation": "name", "value": ".text",
                 "to_ids": True, "uuid": UID, "category": "Other"},
                {"type": "float", "object_relation": "entropy", "value": "6.1"}]}
    for more in ({}, {"x_misp_comment": "c"}, {"created_by_ref": f"identity--{UID}"},
                 {"x_misp_attributes": [{}]}, {"x_misp_attributes": [{"a b": "x"}]},
                 {"x_misp_attributes": {"type": "text"}}, {"labels": []}):
        args = {**base, **more}
        want, got = _stix2(CustomMispObject, args), ready(CustomMispObject, args)
        assert got is None or (got == want and list(got) == list(want)), more
        if not more or "x_misp_comment" in more or "created_by_ref" in more:
            assert got is not None


def test_custom_misp_attribute_equals_stix2() -> None:
    from misp_stix_converter.misp2stix.misp_to_stix21 import CustomAttribute

    kind = "x-misp-attribute"
    base = {"id": f"{kind}--{UID}", "labels": ['misp:type="text"'], "created": AT,
            "modified": AT, "x_misp_type": "text", "x_misp_value": "it's",
            "x_misp_category": "Other", "interoperability": True}
    for more in ({}, {"x_misp_comment": "c"}, {"confidence": 50},
                 {"x_misp_value": 5}, {"labels": ["a", 1]}):
        args = {**base, **more}
        want, got = _stix2(CustomAttribute, args), ready(CustomAttribute, args)
        assert got is None or (got == want and list(got) == list(want)), more
        if not more or "x_misp_comment" in more:
            assert got is not None


def _indicator(**more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"indicator--{UID}", "type": "indicator", "spec_version": "2.1",
        "created": AT, "modified": AT, "pattern_type": "stix", "pattern_version": "2.1",
        "pattern": "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e' AND "
                   "file:name = 'a.exe']",
        "valid_from": AT, "labels": ['misp:name="file"', 'misp:meta-category="file"'],
        "kill_chain_phases": [{"kill_chain_name": "misp-category", "phase_name": "file"}],
        "interoperability": True, "allow_custom": True}
    out.update(more)
    return {k: v for k, v in out.items() if v is not None}


def test_indicators_equal_stix2_or_are_declined() -> None:
    """misp-stix's indicators (what it still builds itself): written as stix2 writes
    them, or left to stix2 where it would convert, refuse or make up a value."""
    from stix2.v21 import Indicator

    plain = _indicator(description="a file", created_by_ref=f"identity--{UID}",
                       object_marking_refs=["marking-definition--613f2e26-407d-48c7-9eca-"
                                            "b8e91df99dc9"], x_misp_thing="x")
    got, want = ready(Indicator, plain), _stix2(Indicator, plain)
    assert got is not None and got == want and list(got) == list(want)
    for change in ({"valid_from": AT.replace(microsecond=5)},  # stix2's fraction
                   {"valid_from": "2020-05-06T07:08:09Z"}, {"valid_from": None},
                   {"valid_until": AT}, {"valid_until": AT - timedelta(seconds=1)},
                   {"valid_from": AT.astimezone(timezone(timedelta(hours=2)))},
                   {"pattern": 5}, {"pattern": None}, {"pattern_type": None},
                   {"confidence": 5}, {"revoked": False}, {"indicator_types": "x"},
                   {"granular_markings": [{"marking_ref": "marking-definition--613f2e26-"
                                           "407d-48c7-9eca-b8e91df99dc9",
                                           "selectors": ["labels"]}]}):
        assert ready(Indicator, _indicator(**change)) is None, change
    later = _indicator(valid_until=AT + timedelta(days=1), indicator_types=["x"],
                       name="n", lang="en")
    got, want = ready(Indicator, later), _stix2(Indicator, later)
    assert got is not None and got == want and list(got) == list(want)
    rng = random.Random(20261207)
    pool: dict[str, list[Any]] = {
        "description": ["d", "", 3, None], "name": ["n", None, ["n"]],
        "valid_until": [None, AT, AT + timedelta(seconds=1), AT + timedelta(days=9)],
        "valid_from": [AT, AT + timedelta(days=9), AT.replace(microsecond=7)],
        "labels": [["x"], [], None, "x"], "pattern_version": ["2.1", None, 2],
        "kill_chain_phases": [[], [{"kill_chain_name": "k"}], None],
        "x_misp_refs": [["u"], None, {"k": float("nan")}], "allow_custom": [True, False]}
    written = 0
    for _ in range(300):
        args = _indicator()
        for key in rng.sample(sorted(pool), rng.randint(1, 4)):
            args[key] = rng.choice(pool[key])
        args = {k: v for k, v in args.items() if v is not None}
        got = ready(Indicator, args)
        if got is not None:
            written += 1
            assert got == _stix2(Indicator, args), args
    assert written >= 40


# -- attributes of the types misp-stix keeps whole (x-misp-attribute) ------------------

def _custom_cases() -> list[tuple[str, Any, str, dict[str, Any]]]:
    """Every type misp-stix does not map, in each category PyMISP allows it in (the
    first two), with a plain value, one PyMISP rewrites and one it may refuse; and the
    fields that keep an attribute misp-stix's."""
    from pymisp.abstract import describe_types

    cats = describe_types["category_type_mappings"]
    out: list[tuple[str, Any, str, dict[str, Any]]] = []
    for kind in sorted(unmapped_types()):
        allowed = [c for c, types in cats.items() if kind in types][:2] or ["Other"]
        for i, category in enumerate(allowed):
            out.append((kind, f"Some {kind}, o'brien \\ {i}", category, {}))
        out.append((kind, f" 12 {kind}\U0001f600 ", allowed[0], {"comment": ""}))
        out.append((kind, "2017-11-14T10:00:00+00:00", allowed[0], {"to_ids": False}))
    tags = {"Tag": [{"name": "tlp:amber"}, {"name": "misp:tool=\"x\""},
                    {"name": "confidence-level:confidence=\"2\""}]}
    out += [("text", "tagged", "Other", tags), ("comment", "tagged", "Other", tags),
            ("yara", "rule t { condition: true }", "Payload installation", tags),
            ("vulnerability", "CVE-2017-11882", "External analysis", tags),
            ("text", "twice", "Other", {"Tag": [{"name": "tlp:red"}, {"name": "tlp:red"}]}),
            ("text", "seen", "Other", {"first_seen": "2017-11-01T00:00:00+00:00"}),
            ("comment", "wrong category", "Network activity", {}),
            ("text", "no timestamp", "Other", {"timestamp": None}),
            ("text", 12, "Other", {}),
            ("text", "spaced comment", "Other", {"comment": "  two  spaces \u00e9 "})]
    # the pattern languages (an indicator whether for IDS or not) and vulnerabilities
    rule = 'rule x { strings: $a = "o\'b\\\\c" condition: $a }'
    for kind in sorted(pattern_language_types()):
        out += [(kind, rule, "Network activity", {}),
                (kind, rule, "Payload installation", {"to_ids": False, "comment": ""}),
                (kind, "", "Network activity", {})]
    out += [("vulnerability", "CVE-2017-11882", "External analysis", {}),
            ("vulnerability", "cve-2017-0199", "Payload delivery", {"to_ids": False}),
            ("vulnerability", " CVE-2014-6271 ", "External analysis", {"comment": "x"}),
            ("vulnerability", "not a cve", "External analysis", {})]
    return out


def test_unmapped_types_equal_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    """misp-stix's own conversion and the direct one of every attribute of a type it
    keeps whole: the same objects and losses, and most of them written directly."""
    cases = _custom_cases()
    assert {"text", "comment", "pdb", "other", "yara", "snort", "vulnerability"} <= \
        {k for k, *_ in cases} and direct_types() <= {k for k, *_ in cases}
    made: list[str] = []

    def counted(parser: Any, attribute: dict[str, Any]) -> Any:
        out = custom_attribute(parser, attribute)
        if out is not None:
            made.append(attribute["type"] + (" tagged" if attribute.get("Tag") else ""))
        return out

    monkeypatch.setattr("vigil.interop.misp_parser.custom_attribute", counted)
    for i in range(0, len(cases), 90):  # (uuid 99 is _attributes_event's own)
        slow, fast, _ = _both(_attributes_event(cases[i:i + 90]), monkeypatch)
        assert fast == slow
    # of ~450 (PyMISP refuses the values given to typed ones: bank accounts, dates)
    assert {"text", "comment", "pdb", "other", "yara", "snort", "suricata", "sigma",
            "vulnerability", "text tagged", "comment tagged", "yara tagged",
            "vulnerability tagged"} <= set(made) and len(made) >= 250
