"""TLP marking definitions: ids, the official objects, text parsing, bundle level."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.errors import InputError
from vigil.model import Tlp
from vigil.stix.tlp import (
    TLP1_MARKING_IDS,
    TLP2_MARKING_IDS,
    TLP_ORDER,
    bundle_tlp,
    marking_definition_for,
    marking_id_for,
    narrowest,
    parse_tlp,
    tlp_from_marking_id,
)
from vigil.stix.validate import check_object

OASIS = Path(__file__).resolve().parents[1] / "data" / "stix" / "oasis"

OFFICIAL_TLP2 = {
    Tlp.CLEAR: "94868c89-83c2-464b-929b-a1a8aa3c8487.tlp-clear",
    Tlp.GREEN: "bab4a63c-aed9-4cf5-a766-dfca5abac2bb.tlp-green",
    Tlp.AMBER: "55d920b0-5e8b-4f79-9ee9-91f868d9b421.tlp-amber",
    Tlp.AMBER_STRICT: "939a9414-2ddd-4d32-a0cd-375ea402b003.tlp-amber-strict",
    Tlp.RED: "e828b379-4e03-4974-9ac4-e53a884c97c1.tlp-red",
}


@pytest.mark.parametrize("tlp", list(Tlp))
def test_marking_definition_is_the_official_tlp2_object(tlp: Tlp) -> None:
    path = OASIS / f"marking-definition--{OFFICIAL_TLP2[tlp]}.json"
    official = json.loads(path.read_text())["objects"][0]
    assert marking_definition_for(tlp) == official
    assert marking_id_for(tlp) == official["id"]
    assert tlp_from_marking_id(official["id"]) is tlp
    assert check_object(marking_definition_for(tlp)) == []


def test_marking_definition_is_a_fresh_copy() -> None:
    md = marking_definition_for(Tlp.RED)
    md["extensions"].clear()
    assert marking_definition_for(Tlp.RED)["extensions"]


def test_tlp1_ids_from_the_stix21_spec() -> None:
    assert (
        tlp_from_marking_id("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9") is Tlp.CLEAR
    )
    assert (
        tlp_from_marking_id("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da") is Tlp.GREEN
    )
    assert (
        tlp_from_marking_id("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82") is Tlp.AMBER
    )
    assert (
        tlp_from_marking_id("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed") is Tlp.RED
    )
    assert set(TLP1_MARKING_IDS) == {Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.RED}
    assert set(TLP2_MARKING_IDS) == set(Tlp)


def test_tlp1_amber_of_the_validator_examples_is_recognised() -> None:
    doc = json.loads((OASIS / "tlp-amber.json").read_text())
    assert tlp_from_marking_id(doc["objects"][0]["id"]) is Tlp.AMBER


def test_unknown_marking_ids() -> None:
    assert tlp_from_marking_id("marking-definition--fa42a846-8d90-4e51-bc29-71d5b4802168") is None
    assert tlp_from_marking_id("") is None


@pytest.mark.parametrize(
    ("text", "tlp"),
    [
        ("amber", Tlp.AMBER),
        ("AMBER", Tlp.AMBER),
        ("TLP:AMBER", Tlp.AMBER),
        ("tlp:amber", Tlp.AMBER),
        (" TLP: Amber ", Tlp.AMBER),
        ("AMBER+STRICT", Tlp.AMBER_STRICT),
        ("TLP:AMBER+STRICT", Tlp.AMBER_STRICT),
        ("amber strict", Tlp.AMBER_STRICT),
        ("amber-strict", Tlp.AMBER_STRICT),
        ("amber_strict", Tlp.AMBER_STRICT),
        ("white", Tlp.CLEAR),
        ("TLP:WHITE", Tlp.CLEAR),
        ("clear", Tlp.CLEAR),
        ("green", Tlp.GREEN),
        ("Red", Tlp.RED),
    ],
)
def test_parse_tlp(text: str, tlp: Tlp) -> None:
    assert parse_tlp(text) is tlp


@pytest.mark.parametrize("text", ["purple", "", "tlp:", "amber+", "strict", "TLP-AMBER", "ambers"])
def test_parse_tlp_rejects(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_tlp(text)
    assert info.value.code == "input.tlp"


def test_bundle_tlp_is_the_narrowest_object_marking() -> None:
    green, amber = TLP2_MARKING_IDS[Tlp.GREEN], TLP1_MARKING_IDS[Tlp.AMBER]
    objects = [
        {"type": "identity", "object_marking_refs": [green]},
        {"type": "indicator", "object_marking_refs": ["marking-definition--x", amber]},
        {"type": "malware"},
    ]
    assert bundle_tlp(objects) is Tlp.AMBER
    assert bundle_tlp([*objects, {"object_marking_refs": [TLP2_MARKING_IDS[Tlp.RED]]}]) is Tlp.RED
    assert bundle_tlp([{"object_marking_refs": [TLP1_MARKING_IDS[Tlp.CLEAR]]}]) is Tlp.CLEAR
    assert bundle_tlp([]) is None
    assert bundle_tlp([{"type": "x"}, "junk", {"object_marking_refs": "not a list"}]) is None
    # granular markings do not set the bundle level
    assert bundle_tlp([{"granular_markings": [{"marking_ref": green, "selectors": ["a"]}]}]) is None


def test_bundle_tlp_of_the_oasis_tlp2_example() -> None:
    doc = json.loads((OASIS / "example-using-tlp2.0-green.INVALID-timestamp.json").read_text())
    assert bundle_tlp(doc["objects"]) is Tlp.GREEN


def test_order_and_narrowest() -> None:
    assert TLP_ORDER == (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
    assert narrowest([Tlp.GREEN, Tlp.AMBER_STRICT, Tlp.AMBER]) is Tlp.AMBER_STRICT
    assert narrowest([]) is None
