"""The direct MISP -> STIX path for common attributes (``vigil.interop.misp_fast``)
gives exactly what misp-stix gives: every object, field for field and in the same
order, and the same losses, on real PyMISP test events and on an event holding every
type the path takes (with values PyMISP rewrites or refuses, and attributes the path
leaves to misp-stix). The one difference is deliberate and not the fast path's: an
object dated by the clock (an event without a timestamp) is dated when it is
converted, so two conversions differ there."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.interop.misp_cases import DATA, EVENTS, _attributes_event, _both

from vigil.interop.misp import events_of, to_stix
from vigil.interop.misp_fast import TYPES, astral_to_question_mark, plain_value
from vigil.stix.validate import SCO_PROPERTY_NAMES, validate_bundle

pytestmark = pytest.mark.usefixtures("quiet_misp")

@pytest.mark.parametrize("name", EVENTS)
def test_real_events_equal_misp_stix(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for event in events_of(json.loads((DATA / name).read_text("utf-8"))):
        slow, fast, taken = _both(event, monkeypatch)
        assert fast[0] == slow[0]  # every object, every field, in order
        assert fast[1] == slow[1]  # the same losses
        plain = sum(plain_value(a) is not None for a in event["Event"].get("Attribute") or ())
        assert taken == plain
        objects = to_stix(event)[0]
        assert validate_bundle({"type": "bundle", "objects": objects,
                                "id": "bundle--5a0d5bf4-99c8-4f15-9879-22b1950d210f"}
                               ).objects == len(objects)


def test_real_events_mostly_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The equality above is about the fast path: most attributes of the real events
    take it (484 of 505 today)."""
    total = taken = 0
    for name in EVENTS:
        for event in events_of(json.loads((DATA / name).read_text("utf-8"))):
            total += len(event["Event"].get("Attribute") or ())
            taken += _both(event, monkeypatch)[2]
    assert taken >= 0.9 * total and taken >= 450


CASES: list[tuple[str, Any, str, dict[str, Any]]] = [
    ("ip-dst", "198.51.100.7", "Network activity", {}),
    ("ip-src", "2001:db8::1", "Network activity", {}),
    ("ip-dst", "198.51.100[.]8", "Network activity", {}),  # PyMISP refangs
    ("ip-dst", "not an address", "Network activity", {}),  # PyMISP refuses: misp-stix's
    ("ip-src", "10.0.0.0/8", "Network activity", {"to_ids": False}),
    ("ip-dst|port", "198.51.100.9|443", "Network activity", {}),
    ("ip-src|port", "2001:db8::2|8080", "Network activity", {}),
    ("ip-dst|port", "198.51.100.10|0443", "Network activity", {}),  # not a port as written
    ("ip-dst|port", "198.51.100.11|99999", "Network activity", {}),
    ("domain", "Example.COM", "Network activity", {}),
    ("domain", "bad[.]example.org", "Network activity", {"comment": ""}),
    ("hostname", "www.o'brien.example", "Network activity", {}),  # quote in a pattern
    ("domain|ip", "dom.example|198.51.100.12", "Network activity", {}),
    ("domain|ip", "dom.example|198.51.100.13|x", "Network activity", {}),
    ("url", "http://x.example/a\\b'c", "Network activity", {}),
    ("uri", "/admin/login.php", "Network activity", {}),
    ("link", "https://blog.example/post", "External analysis", {}),
    ("md5", "D41D8CD98F00B204E9800998ECF8427E", "Payload delivery", {}),  # upper case
    ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "Payload delivery", {}),
    ("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "Payload delivery", {}),
    ("sha512", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
               "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
     "Payload delivery", {}),
    ("md5", "d41d8cd98f00b204e9800998ecf8427", "Payload delivery", {}),  # short: refused
    ("filename", "invoice.pdf.exe", "Payload delivery", {}),
    ("filename|md5", "a_b.exe|d41d8cd98f00b204e9800998ecf8427e", "Payload delivery", {}),
    ("filename|sha1", "c.dll|da39a3ee5e6b4b0d3255bfef95601890afd80709",
     "Payload delivery", {"to_ids": False}),
    ("filename|sha256", "d.bin|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b78"
                        "52b855", "Payload delivery", {}),
    ("filename|sha512", "e.bin|cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d3"
                        "6ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af9"
                        "27da3e", "Payload delivery", {}),
    # the other hash types misp-stix writes as a file with one hash (each name as
    # stix2 writes it: SHA-224 is not a STIX name and stays SHA224, ssdeep is SSDEEP)
    *((kind, (("96:p5aAS1tN0NZtKrS4aA2IIg0LpqxP9KdC3tH9Nc3:p5aAS1tN0NZtKrS4aA2II"
               "g0LpqxP9KdC3tH9Nc3") if kind in ("ssdeep", "impfuzzy") else
              "0750566d55155048z8" if kind == "vhash" else ("ab12cd34" * 20)[:n]),
       "Payload delivery", {})
      for kind, n in (("sha224", 56), ("sha384", 96), ("sha512/224", 56),
                      ("sha512/256", 64), ("sha3-224", 56), ("sha3-256", 64),
                      ("sha3-384", 96), ("sha3-512", 128), ("imphash", 32),
                      ("authentihash", 64), ("cdhash", 40), ("pehash", 40),
                      ("tlsh", 70), ("telfhash", 70), ("ssdeep", 0),
                      ("impfuzzy", 0), ("vhash", 0))),
    *((f"filename|{kind}", f"f{i}.exe|" + (("ab12cd34" * 20)[:n] if n else
                                            "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"),
       "Artifacts dropped", {"to_ids": i % 2 == 0})
      for i, (kind, n) in enumerate((("sha224", 56), ("sha384", 96),
                                     ("sha512/224", 56), ("sha512/256", 64),
                                     ("sha3-224", 56), ("sha3-256", 64),
                                     ("sha3-384", 96), ("sha3-512", 128),
                                     ("imphash", 32), ("authentihash", 64),
                                     ("pehash", 40), ("tlsh", 70), ("ssdeep", 0),
                                     ("impfuzzy", 0), ("vhash", 0)))),
    ("tlsh", "ab12cd34" * 4, "Payload delivery", {}),  # short: stix2 refuses it
    ("sha3-256", "zz" * 32, "Payload delivery", {}),  # not hex
    ("email-subject", "Invoice o'brien \\ 2017", "Payload delivery", {}),
    ("email-subject", "Re: meeting", "Network activity", {"to_ids": False}),
    ("email-attachment", "inv\u00f6ice 'q'.doc", "Payload delivery", {}),
    ("email-attachment", "a.zip", "Payload delivery", {"to_ids": False}),
    ("email", "Someone@Example.org", "Social network", {}),
    ("email-src", "a[at]example.org", "Payload delivery", {}),
    ("email-dst", "b@example.org", "Network activity", {}),
    # a tag (the direct path's since tags are), then left to misp-stix: the same tag
    # twice, a galaxy-free sighting, first_seen, a wrong category, no to_ids, a type
    # not taken
    ("ip-dst", "198.51.100.14", "Network activity", {"Tag": [{"name": "tlp:amber"}]}),
    ("ip-dst", "198.51.100.24", "Network activity",
     {"Tag": [{"name": "tlp:amber"}, {"name": "tlp:amber"}]}),
    ("ip-dst", "198.51.100.15", "Network activity",
     {"first_seen": "2017-11-01T00:00:00+00:00"}),
    ("md5", "d41d8cd98f00b204e9800998ecf8427e", "Network activity", {}),  # category
    ("ip-dst", "198.51.100.17", "Network activity", {"id": "x1"}),  # PyMISP: int("x1")
    ("ip-dst", "198.51.100.18", "Network activity", {"distribution": "4"}),  # no group
    ("mutex", "Global\\x", "Artifacts dropped", {}),
]


def test_every_type_equals_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {kind for kind, *_ in CASES} >= TYPES
    event = _attributes_event(CASES)
    slow, fast, taken = _both(event, monkeypatch)
    assert fast == slow
    assert taken == 60  # the others are misp-stix's own, in their place
    # and vigil's validator takes the bundle whole
    report = validate_bundle({"type": "bundle",
                              "id": "bundle--5a0d5bf4-99c8-4f15-9879-22b1950d210f",
                              "objects": orjson.loads(orjson.dumps(fast[0]))})
    assert report.objects == len(fast[0]) > 100


def _variants(kind: str, value: str, category: str, extra: dict[str, Any]
              ) -> list[tuple[str, Any, str, dict[str, Any]]]:
    """Spellings PyMISP rewrites or refuses, and fields it reads its own way."""
    idn = "bücher.example" if kind in ("domain", "hostname") else \
        value.replace("example", "exämple")
    values = [f" {value} ", value + "\n", value.upper(), value + "\U0001f600", idn,
              value.replace(".", "[.]")]
    fields: list[dict[str, Any]] = [{"timestamp": 1510922092}, {"timestamp": "0"},
                                    {"comment": None}, {"to_ids": "1"},
                                    {"distribution": 0}, {"Tag": []}]
    return [(kind, v, category, extra) for v in values] + \
        [(kind, value, category, {**extra, **f}) for f in fields]


Case = tuple[str, Any, str, dict[str, Any]]
ODD: list[Case] = [("ip-dst|port", "2001:db8::1|80", "Network activity", {}),
       ("domain|ip", "a.example|2001:db8::5", "Network activity", {}),
       ("ip-dst", "fe80::1%eth0", "Network activity", {}),
       ("url", "hxxp://evil[.]example/x", "Network activity", {}),
       ("filename|md5", "x|y|d41d8cd98f00b204e9800998ecf8427e", "Payload delivery", {}),
       ("filename|md5", "x_d41d8cd98f00b204e9800998ecf8427e", "Payload delivery", {}),
       ("ip-dst|port", "198.51.100.7_80", "Network activity", {}),
       ("domain", "", "Network activity", {}), ("md5", "", "Payload delivery", {})]


def test_odd_spellings_equal_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = [v for c in CASES if isinstance(c[1], str) for v in _variants(*c)] + ODD
    taken = 0
    for i in range(0, len(cases), 60):
        slow, fast, n = _both(_attributes_event(cases[i:i + 60]), monkeypatch)
        assert fast == slow
        taken += n
    assert taken >= 200  # of 442 attributes


def test_event_without_identity_and_with_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Orgc (no created_by_ref), and a MISP object whose reference points at an
    attribute the fast path wrote (misp-stix resolves it from the fast objects)."""
    event = _attributes_event(CASES[:3])
    del event["Event"]["Orgc"]
    target = event["Event"]["Attribute"][0]["uuid"]
    event["Event"]["Object"] = [{
        "name": "domain-ip", "meta-category": "network", "uuid":
        "5a0d5cac-2ef4-4bae-baa4-0000000000ff", "timestamp": "1510922092",
        "template_uuid": "43b3b146-77eb-4931-b4cc-b66c60f28734", "template_version": "9",
        "Attribute": [{"type": "domain", "object_relation": "domain", "value":
                       "obj.example", "category": "Network activity", "to_ids": True,
                       "uuid": "5a0d5cac-2ef4-4bae-baa4-0000000000fe",
                       "timestamp": "1510922092"}],
        "ObjectReference": [{"referenced_uuid": target, "relationship_type": "resolves-to",
                             "uuid": "5a0d5cac-2ef4-4bae-baa4-0000000000fd",
                             "timestamp": "1510922092"}]}]
    slow, fast, taken = _both(event, monkeypatch)
    assert fast == slow
    assert taken == 3
    assert any(o["type"] == "relationship" and o.get("target_ref", "").endswith(target)
               for o in fast[0])


def _slow_event(n: int, first: int = 0) -> dict[str, Any]:
    # user-agent: misp-stix's pattern has quoted keys
    # (extensions.'http-request-ext'.request_header.'User-Agent'): the slow path
    slow: list[Case] = [("user-agent", f"Mozilla/5.0 (k{i})", "Network activity", {})
                        for i in range(first, first + n)]
    event = _attributes_event(slow + CASES[:2])
    for i, a in enumerate(event["Event"]["Attribute"]):
        a["uuid"] = f"5a0d5cac-2ef4-4bae-a{first:03x}-{i:012x}"
    return event


def test_slow_patterns_are_bounded_per_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Patterns outside the fast forms cost the reference grammar ~20 µs a character:
    an event is checked as one bundle, so past ``SLOW_PATTERN_BUDGET`` characters each
    further such pattern is a loss of its own (pointing at its attribute), as a share
    posted with them would be refused."""
    from vigil.stix import _patterns

    event = _slow_event(6)
    objects, losses = to_stix(copy.deepcopy(event))
    assert losses == []
    indicators = [o for o in objects if o["type"] == "indicator"]
    assert len(indicators) == 9  # 6 slow, 3 fast
    assert not _patterns.fast_valid(indicators[0]["pattern"], SCO_PROPERTY_NAMES)
    one = len(indicators[0]["pattern"])
    monkeypatch.setattr(_patterns, "SLOW_PATTERN_BUDGET", 3 * one + one // 2)
    objects, losses = to_stix(copy.deepcopy(event))
    assert [(x.pointer, x.code) for x in losses] == [
        (f"/Event/Attribute/{i}", "stix.pattern_too_large") for i in (3, 4, 5)]
    assert sum(o["type"] == "indicator" for o in objects) == 6


def test_slow_patterns_are_bounded_per_request(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The events of one import (one API request) share the bound."""
    from vigil.interop.misp_exchange import import_events
    from vigil.model import Actor
    from vigil.stix import _patterns
    from vigil.testing import make_node

    one = len(next(o["pattern"] for o in to_stix(_slow_event(1))[0]
                   if o["type"] == "indicator"))
    monkeypatch.setattr(_patterns, "SLOW_PATTERN_BUDGET", 3 * one + one // 2)
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        reports = import_events(ex, Actor(node.members["alpha"].id, "test"),
                                [_slow_event(2), _slow_event(2, first=2)],
                                to=["community"], tlp="clear")
    finally:
        ex.store.close()
    assert all("share" in r for r in reports)
    codes = [[x["code"] for x in r["losses"]] for r in reports]
    assert codes[0] == []
    assert codes[1] == ["stix.pattern_too_large"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF)))
def test_astral_characters_become_question_marks_as_pymisp_does(value: str) -> None:
    from pymisp.tools.attributevalidationtool import AttributeValidationTool

    assert astral_to_question_mark(value) == \
        AttributeValidationTool._handle_4byte_unicode(value)
    assert astral_to_question_mark(value + "\U0001f600\uffff") == \
        AttributeValidationTool._handle_4byte_unicode(value + "\U0001f600\uffff")
