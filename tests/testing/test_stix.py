"""The STIX factories of the tests: valid STIX 2.1 by default, each field replaceable."""

from __future__ import annotations

import orjson

from vigil.stix.validate import validate_bundle
from vigil.testing import stix


def test_the_objects_are_valid_stix_and_new_each_time() -> None:
    raw = stix.bundle(stix.indicator(), stix.indicator("evil.example"), stix.malware())
    validate_bundle(orjson.loads(raw))
    a, b = stix.indicator(), stix.indicator()
    assert a["id"] != b["id"] and a["id"].startswith("indicator--")


def test_patterns_and_replaced_fields() -> None:
    assert stix.pattern_of("198.51.100.7") == "[ipv4-addr:value = '198.51.100.7']"
    assert stix.pattern_of("evil.example") == "[domain-name:value = 'evil.example']"
    obj = stix.indicator("203.0.113.1", at="2026-01-01T00:00:00.000Z", name="n", id="x")
    assert (obj["id"], obj["name"], obj["created"], obj["valid_from"]) == (
        "x", "n", "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z")


def test_bundles() -> None:
    doc = stix.bundle_doc(stix.malware("m"), id="bundle--1")
    assert doc["id"] == "bundle--1" and [o["name"] for o in doc["objects"]] == ["m"]
    iocs = orjson.loads(stix.ioc_bundle("198.51.100.1", "198.51.100.2", name="same"))
    assert [o["pattern"] for o in iocs["objects"]] == [
        stix.pattern_of("198.51.100.1"), stix.pattern_of("198.51.100.2")]
    assert {o["name"] for o in iocs["objects"]} == {"same"}
    canaries = orjson.loads(stix.canary_bundle("CANARY-1", n=2))["objects"]
    assert len(canaries) == 2 and all("CANARY-1" in o["name"] and "CANARY-1" in
                                      o["description"] for o in canaries)
    validate_bundle(orjson.loads(stix.canary_bundle("CANARY-1")))
