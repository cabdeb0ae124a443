"""Shapes many STIX objects share: dictionaries, hashes, external references, kill
chain phases, granular markings, custom properties, extensions and nested objects."""

from __future__ import annotations

from vigil.stix.checks import c_int, c_str
from vigil.stix.shapes import (
    c_dictionary,
    c_extensions_core,
    c_external_reference,
    c_granular_marking,
    c_hashes,
    c_kill_chain_phase,
    c_object,
    custom_property,
)

UUID = "0b2a5b7e-3c2a-4d6e-9f0a-1b2c3d4e5f60"
MD5 = "44d88612fea8a8f36de82e1278abb02f"


def code(e: object) -> object:
    return None if e is None else e[:2]  # type: ignore[index]


def test_dictionaries_and_hashes() -> None:
    d = c_dictionary(c_int())
    assert d({"a": 1, "b-c_d": 2}) is None
    assert code(d({})) == ("stix.value", "")
    assert code(d({"a b": 1})) == ("stix.property", "/a b")
    assert code(c_dictionary()({"a": None})) == ("stix.value", "/a")
    assert code(c_dictionary()({"a": []})) == ("stix.value", "/a")
    assert c_dictionary()({"a": {"b": None}}) is None  # values are not checked deeper
    assert code(d({"a": "x"})) == ("stix.value", "/a")
    assert c_hashes({"MD5": MD5, "x-custom": "anything"}) is None
    assert code(c_hashes({"MD5": MD5[:-1]})) == ("stix.value", "/MD5")
    assert code(c_hashes({"ab": MD5})) == ("stix.property", "/ab")


def test_external_references() -> None:
    assert c_external_reference({"source_name": "cve", "external_id": "CVE-2021-44228"}) is None
    assert code(c_external_reference({"source_name": "cve", "external_id": "CVE-21"})) == \
        ("stix.value", "/external_id")
    assert code(c_external_reference({"source_name": "vendor",
                                      "external_id": "CAPEC-66"})) == \
        ("stix.value", "/external_id")  # a CAPEC id names its source
    assert code(c_external_reference({"source_name": "x"})) == ("stix.required", "")
    assert code(c_external_reference({"url": "https://example.org"})) == \
        ("stix.required", "/source_name")
    assert code(c_external_reference({"source_name": "x", "url": "nope"})) == \
        ("stix.value", "/url")


def test_kill_chain_phases_and_granular_markings() -> None:
    assert c_kill_chain_phase({"kill_chain_name": "lm", "phase_name": "recon"}) is None
    assert code(c_kill_chain_phase({"kill_chain_name": "lm"})) == ("stix.required",
                                                                   "/phase_name")
    ok = {"selectors": ["description", "labels.[0]"],
          "marking_ref": f"marking-definition--{UUID}"}
    assert c_granular_marking(ok) is None
    assert code(c_granular_marking({**ok, "selectors": ["a b"]})) == ("stix.value",
                                                                      "/selectors/0")
    assert code(c_granular_marking({**ok, "marking_ref": f"malware--{UUID}"})) == \
        ("stix.reference", "/marking_ref")


def test_custom_properties_and_extensions() -> None:
    assert custom_property("x_acme_score", 5) is None
    assert custom_property("payload_bin", "aGVsbG8=") is None
    assert code(custom_property("payload_bin", "not base64!")) == ("stix.value", "")
    assert code(custom_property("X", 1)) == ("stix.property", "")
    assert code(custom_property("x_acme", None)) == ("stix.value", "")
    ext = f"extension-definition--{UUID}"
    assert c_extensions_core({ext: {"extension_type": "property-extension", "rank": 1}}) \
        is None
    assert code(c_extensions_core({ext: {"rank": 1}})) == ("stix.required",
                                                           f"/{ext}/extension_type")
    assert code(c_extensions_core({"acme": {"a": 1}})) == ("stix.extension", "/acme")
    assert c_extensions_core({"acme-ext": {"rank": 1}}) is None


def test_nested_objects() -> None:
    obj = c_object({"name": c_str, "n": c_int(0)}, required=["name"], closed=True)
    assert obj({"name": "x", "n": 1}) is None
    assert code(obj({"n": 1})) == ("stix.required", "/name")
    assert code(obj({"name": "x", "n": -1})) == ("stix.value", "/n")
    assert code(obj({"name": "x", "other": 1})) == ("stix.property", "/other")
    assert c_object({}, any_of=["a", "b"])({"c": 1}) is not None
