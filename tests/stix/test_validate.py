"""The STIX 2.1 validator on good and bad objects and bundles."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import StixError
from vigil.stix.validate import (
    MAX_REPORTED,
    check_bundle,
    check_object,
    validate_bundle,
    validate_object,
)

from .conftest import IDENTITY, TS, make_bundle, make_indicator
from .corpus import load_seeds

DATA = Path(__file__).resolve().parents[1] / "data" / "stix"


def bundle(*objects: Any) -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": "bundle--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
        "objects": list(objects),
    }


def problem(obj: Any) -> tuple[str, str]:
    """(code, pointer) of the first problem of one object put in a bundle."""
    with pytest.raises(StixError) as info:
        validate_bundle(bundle(obj))
    return info.value.code, info.value.pointer or ""


def ind(**changes: Any) -> dict[str, Any]:
    obj = make_indicator(0)
    for k, v in changes.items():
        if v is DROP:
            del obj[k]
        else:
            obj[k] = v
    return obj


DROP = object()


# --- good content -------------------------------------------------------------------


@pytest.mark.parametrize("seed", load_seeds(), ids=lambda s: f"{s['type']}")
def test_every_seed_object_is_valid(seed: dict[str, Any]) -> None:
    assert check_object(seed) == []


@pytest.mark.parametrize(
    "name",
    [
        "poisonivy.json",
        "using-granular-markings.json",
        "using-marking-definitions.json",
        "indicator-for-malicious-url.json",
        "sighting-of-observed-data.json",
        "tlp-amber.json",
        "attack-ics-18.1-sample.json",
    ],
)
def test_real_bundles_are_valid(name: str) -> None:
    path = DATA / name if (DATA / name).exists() else DATA / "oasis" / name
    report = validate_bundle(json.loads(path.read_text()))
    assert report.objects > 0


def test_report_counts(indicator_bundle: dict[str, Any]) -> None:
    report = validate_bundle(indicator_bundle)
    assert report.objects == 1000
    assert report.types == {"indicator": 1000}
    assert report.patterns_fast == 1000 and report.patterns_slow == 0
    attack = validate_bundle(json.loads((DATA / "attack-ics-18.1-sample.json").read_text()))
    assert "x-mitre-tactic" in attack.custom_types
    assert attack.custom_properties > 0


def test_custom_content_is_accepted_like_stix2_validator() -> None:
    obj = ind(x_acme_score=5, x_acme_tags=["a"], x_acme_nested={"k": None})
    assert check_object(obj) == []
    custom = {
        "type": "x-acme-thing",
        "spec_version": "2.1",
        "id": "x-acme-thing--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
        "created": TS,
        "modified": TS,
        "anything": {"goes": [1]},
    }
    assert check_object(custom) == []
    custom_sco = {
        "type": "x-acme-obs",
        "id": "x-acme-obs--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
        "value": "v",
    }
    assert check_object(custom_sco) == []


# --- bundle shape -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "code", "pointer"),
    [
        ([], "stix.bundle", ""),
        (
            {
                "type": "bundel",
                "id": "bundle--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
                "objects": [make_indicator(0)],
            },
            "stix.bundle",
            "/type",
        ),
        ({"type": "bundle", "objects": [make_indicator(0)]}, "stix.bundle", "/id"),
        (
            {
                "type": "bundle",
                "id": "indicator--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
                "objects": [make_indicator(0)],
            },
            "stix.id",
            "/id",
        ),
        (
            {"type": "bundle", "id": "bundle--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10"},
            "stix.bundle",
            "/objects",
        ),
        (
            {"type": "bundle", "id": "bundle--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10", "objects": []},
            "stix.bundle",
            "/objects",
        ),
        (
            {
                "type": "bundle",
                "id": "bundle--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
                "spec_version": "2.0",
                "objects": [make_indicator(0)],
            },
            "stix.spec_version",
            "/spec_version",
        ),
        (bundle("not an object"), "stix.object", "/objects/0"),
        (bundle(make_indicator(0), bundle(make_indicator(1))), "stix.type", "/objects/1/type"),
    ],
)
def test_bundle_shape(doc: Any, code: str, pointer: str) -> None:
    with pytest.raises(StixError) as info:
        validate_bundle(doc)
    assert (info.value.code, info.value.pointer) == (code, pointer)
    assert info.value.status == 422


def test_the_oasis_tlp2_example_is_rejected() -> None:
    doc = json.loads(
        (DATA / "oasis" / "example-using-tlp2.0-green.INVALID-timestamp.json").read_text()
    )
    problems = check_bundle(doc)
    assert [(p.code, p.pointer) for p in problems] == [
        ("stix.bundle", "/type"),
        ("stix.timestamp", "/objects/2/created"),
    ]


@pytest.mark.parametrize(
    ("name", "code", "pointer"),
    [
        ("invalid_identity.json", "stix.required", "/modified"),
        ("invalid_timestamp.json", "stix.timestamp_order", "/modified"),
    ],
)
def test_the_validator_negative_examples(name: str, code: str, pointer: str) -> None:
    obj = json.loads((DATA / "oasis" / name).read_text())
    assert [(p.code, p.pointer) for p in check_object(obj)] == [(code, pointer)]
    with pytest.raises(StixError) as info:
        validate_object(obj, "/objects/4")
    assert info.value.pointer == "/objects/4" + pointer


# --- objects ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "code", "pointer"),
    [
        (ind(pattern="[ipv4-addr:value = "), "stix.pattern", "/objects/0/pattern"),
        (ind(pattern="[x:value = 'a']"), "stix.pattern", "/objects/0/pattern"),
        (ind(pattern="[file:hashes.MD5 = 'abc']"), "stix.pattern", "/objects/0/pattern"),
        (ind(valid_from=DROP), "stix.required", "/objects/0/valid_from"),
        (ind(pattern_type=DROP), "stix.required", "/objects/0/pattern_type"),
        (ind(created="2022-101-27T00:00:00Z"), "stix.timestamp", "/objects/0/created"),
        (ind(created="2023-02-29T00:00:00.000Z"), "stix.timestamp", "/objects/0/created"),
        (ind(created="2024-02-01T00:00:00Z"), "stix.timestamp", "/objects/0/created"),
        (ind(created="0000-06-01T00:00:00.000Z"), "stix.timestamp", "/objects/0/created"),
        (ind(valid_from="0000-06-01T00:00:00Z"), "stix.timestamp", "/objects/0/valid_from"),
        (ind(modified="2000-01-01T00:00:00.000Z"), "stix.timestamp_order", "/objects/0/modified"),
        (ind(valid_until=TS), "stix.timestamp_order", "/objects/0/valid_until"),
        (ind(id="indicator--not-a-uuid"), "stix.id", "/objects/0/id"),
        (ind(id="malware--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10"), "stix.id", "/objects/0/id"),
        (ind(id=DROP), "stix.required", "/objects/0/id"),
        (ind(spec_version=DROP), "stix.spec_version", "/objects/0/spec_version"),
        (ind(spec_version="2.0"), "stix.spec_version", "/objects/0/spec_version"),
        (ind(type="Indicator"), "stix.type", "/objects/0/type"),
        (ind(type=DROP), "stix.required", "/objects/0/type"),
        (
            ind(created_by_ref="malware--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10"),
            "stix.reference",
            "/objects/0/created_by_ref",
        ),
        (ind(object_marking_refs=[IDENTITY]), "stix.reference", "/objects/0/object_marking_refs/0"),
        (ind(object_marking_refs=[]), "stix.value", "/objects/0/object_marking_refs"),
        (ind(confidence=101), "stix.value", "/objects/0/confidence"),
        (ind(confidence=True), "stix.value", "/objects/0/confidence"),
        (ind(labels=[]), "stix.value", "/objects/0/labels"),
        (ind(name=None), "stix.value", "/objects/0/name"),
        (ind(x_bad=None), "stix.value", "/objects/0/x_bad"),
        (ind(x_bad=[]), "stix.value", "/objects/0/x_bad"),
        (ind(**{"Bad-Name": 1}), "stix.property", "/objects/0/Bad-Name"),
        (ind(severity="high"), "stix.property", "/objects/0/severity"),
        (ind(x_acme_bin="!!"), "stix.value", "/objects/0/x_acme_bin"),
        (ind(lang="not a tag"), "stix.value", "/objects/0/lang"),
        (
            ind(external_references=[{"source_name": "cve", "external_id": "CVE-19-1"}]),
            "stix.value",
            "/objects/0/external_references/0/external_id",
        ),
        (
            ind(external_references=[{"source_name": "x"}]),
            "stix.required",
            "/objects/0/external_references/0",
        ),
        (
            ind(external_references=[{"source_name": "x", "url": "hxxp://a b"}]),
            "stix.value",
            "/objects/0/external_references/0/url",
        ),
        (
            ind(kill_chain_phases=[{"phase_name": "p"}]),
            "stix.required",
            "/objects/0/kill_chain_phases/0/kill_chain_name",
        ),
        (
            ind(granular_markings=[{"selectors": ["nope"], "marking_ref": IDENTITY}]),
            "stix.reference",
            "/objects/0/granular_markings/0/marking_ref",
        ),
        (
            ind(
                granular_markings=[
                    {
                        "selectors": ["description"],
                        "marking_ref": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
                    }
                ]
            ),
            "stix.marking",
            "/objects/0/granular_markings/0/selectors/0",
        ),
        (
            ind(kill_chain_phases=[{"kill_chain_name": "k", "phase_name": "p"}],
                granular_markings=[{"selectors": ["kill_chain_phases.[²]"],
                                    "marking_ref": "marking-definition--"
                                                   "55d920b0-5e8b-4f79-9ee9-91f868d9b421"}]),
            "stix.value",
            "/objects/0/granular_markings/0/selectors/0",
        ),
        (ind(extensions={"bogus": {"a": 1}}), "stix.extension", "/objects/0/extensions/bogus"),
        (
            ind(
                extensions={"extension-definition--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10": {"a": 1}}
            ),
            "stix.required",
            "/objects/0/extensions/extension-definition--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10/"
            "extension_type",
        ),
    ],
)
def test_bad_object(obj: dict[str, Any], code: str, pointer: str) -> None:
    assert problem(obj) == (code, pointer)


def _seed(type_: str, n: int = 0) -> dict[str, Any]:
    return copy.deepcopy([s for s in load_seeds() if s["type"] == type_][n])


def _with(obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
    for k, v in changes.items():
        if v is DROP:
            del obj[k]
        else:
            obj[k] = v
    return obj


@pytest.mark.parametrize(
    ("obj", "code", "pointer"),
    [
        (
            _with(_seed("relationship"), relationship_type="Indicates"),
            "stix.value",
            "/relationship_type",
        ),
        (
            _with(
                _seed("relationship"), source_ref="sighting--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10"
            ),
            "stix.reference",
            "/source_ref",
        ),
        (_with(_seed("relationship"), target_ref=DROP), "stix.required", "/target_ref"),
        (
            _with(
                _seed("sighting"), sighting_of_ref="ipv4-addr--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10"
            ),
            "stix.reference",
            "/sighting_of_ref",
        ),
        (
            _with(
                _seed("sighting"),
                where_sighted_refs=["indicator--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10"],
            ),
            "stix.reference",
            "/where_sighted_refs/0",
        ),
        (_with(_seed("malware", 0), name=DROP), "stix.required", "/name"),
        (_with(_seed("malware", 1), is_family="no"), "stix.value", "/is_family"),
        (_with(_seed("opinion"), opinion="maybe"), "stix.vocab", "/opinion"),
        (_with(_seed("location", 0), longitude=DROP), "stix.required", ""),
        (_with(_seed("location", 1), region=DROP, country=DROP), "stix.required", ""),
        (
            _with(_seed("observed-data"), objects={"0": {"type": "ipv4-addr", "value": "1.2.3.4"}}),
            "stix.required",
            "",
        ),
        (_with(_seed("report"), published="yesterday"), "stix.timestamp", "/published"),
        (_with(_seed("grouping"), object_refs=[]), "stix.value", "/object_refs"),
        (
            _with(_seed("extension-definition"), extension_properties=["x"]),
            "stix.property",
            "/extension_properties",
        ),
        (
            _with(_seed("extension-definition"), extension_types=["new-thing"]),
            "stix.vocab",
            "/extension_types/0",
        ),
        (_with(_seed("language-content"), object_ref=DROP), "stix.required", "/object_ref"),
        (
            _with(_seed("marking-definition", 0), definition={"text": "x"}),
            "stix.marking",
            "/definition",
        ),
        (_with(_seed("marking-definition", 1), name="TLP:CLEAR"), "stix.marking", ""),
        (_with(_seed("marking-definition", 1), created="2017-01-20T00:00:00Z"), "stix.marking", ""),
        (
            _with(_seed("marking-definition", 2), extensions=DROP),
            "stix.required",
            "/definition_type",
        ),
        (
            _with(
                _seed("marking-definition", 0),
                object_marking_refs=[_seed("marking-definition", 0)["id"]],
            ),
            "stix.marking",
            "/object_marking_refs",
        ),
        (_with(_seed("ipv4-addr"), value="256.1.1.1"), "stix.value", "/value"),
        (_with(_seed("ipv6-addr"), value="2001:db8::g"), "stix.value", "/value"),
        (_with(_seed("domain-name"), value="evil[.]example"), "stix.value", "/value"),
        (_with(_seed("url"), value="84.38.133[.]149/img/icon.gif"), "stix.value", "/value"),
        (_with(_seed("email-addr"), value="not-an-address"), "stix.value", "/value"),
        (_with(_seed("mac-addr"), value="00-11-22-33-44-55"), "stix.value", "/value"),
        (_with(_seed("file"), hashes="MD5: abc"), "stix.value", "/hashes"),
        (_with(_seed("file"), hashes={"SHA-256": "abc"}), "stix.value", "/hashes/SHA-256"),
        (_with(_seed("file"), size="1.8 MB"), "stix.value", "/size"),
        (_with(_seed("file"), name=DROP, hashes=DROP), "stix.required", ""),
        (
            _with(_seed("file"), parent_directory_ref="file--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10"),
            "stix.reference",
            "/parent_directory_ref",
        ),
        (_with(_seed("artifact", 0), url="https://example.com/x"), "stix.required", ""),
        (_with(_seed("artifact", 0), payload_bin="not base64"), "stix.value", "/payload_bin"),
        (_with(_seed("email-message", 0), is_multipart=DROP), "stix.required", "/is_multipart"),
        (_with(_seed("network-traffic"), protocols=DROP), "stix.required", "/protocols"),
        (
            _with(_seed("network-traffic"), end="2000-01-01T00:00:00Z"),
            "stix.timestamp_order",
            "/end",
        ),
        (_with(_seed("network-traffic"), dst_port=70000), "stix.value", "/dst_port"),
        (
            _with(_seed("process"), id="process--6b1f0d3c-5a34-5c5f-9a44-8f0b1f5e2a10"),
            "stix.id",
            "/id",
        ),
        (_with(_seed("windows-registry-key"), key="HKLM\\Software"), "stix.value", "/key"),
        (_with(_seed("software"), languages=["ENG"]), "stix.value", "/languages/0"),
        (_with(_seed("user-account"), is_privileged="yes"), "stix.value", "/is_privileged"),
    ],
)
def test_bad_specific_objects(obj: dict[str, Any], code: str, pointer: str) -> None:
    problems = check_object(obj)
    assert problems, obj
    assert (problems[0].code, problems[0].pointer) == (code, pointer), problems


def test_problems_are_collected_and_listed() -> None:
    objects = [ind(id=f"indicator--{i}") for i in range(30)]
    assert len(check_bundle(bundle(*objects))) == 30
    assert len(check_bundle(bundle(*objects), limit=5)) == 5
    with pytest.raises(StixError) as info:
        validate_bundle(bundle(*objects))
    err = info.value
    assert err.code == "stix.id" and err.pointer == "/objects/0/id"
    assert len(err.detail["problems"]) == MAX_REPORTED
    assert err.detail["truncated"] is True
    assert err.to_dict()["detail"]["problems"][3]["pointer"] == "/objects/3/id"


def test_stix20_content_is_refused() -> None:
    stix20 = {
        "type": "indicator",
        "id": "indicator--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
        "created": TS,
        "modified": TS,
        "labels": ["malicious-activity"],
        "pattern": "[ipv4-addr:value = '1.2.3.4']",
        "valid_from": TS,
    }
    codes = [p.code for p in check_object(stix20)]
    assert codes[0] == "stix.spec_version"


def test_speed_1000_indicators() -> None:
    """Regression guard, generous for a loaded CI machine (about 10 ms when idle)."""
    doc = make_bundle(1000)
    validate_bundle(doc)
    best = min(_timed(lambda: validate_bundle(doc)) for _ in range(5))
    assert best < 0.15, f"validate_bundle took {best * 1000:.1f} ms for 1,000 indicators"


def _timed(fn: Any) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from([TS, IDENTITY, "2024-02-30T00:00:00Z", "x--y"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_SEED_TYPES = sorted({s["type"] for s in load_seeds()})


@settings(max_examples=400, deadline=None)
@given(
    st.integers(0, len(load_seeds()) - 1),
    st.lists(st.tuples(st.text(max_size=15), _JSON), max_size=4),
    st.sampled_from(_SEED_TYPES),
)
def test_never_crashes_on_arbitrary_json(
    seed_index: int, changes: list[tuple[str, Any]], other_type: str
) -> None:
    obj = copy.deepcopy(load_seeds()[seed_index])
    keys = list(obj)
    for i, (key, value) in enumerate(changes):
        obj[keys[i % len(keys)] if i % 2 else key] = value
    if changes and len(changes) % 3 == 0:
        obj["type"] = other_type
    problems = check_object(obj)
    assert all(p.pointer == "" or p.pointer.startswith("/") for p in problems)
    check_bundle(bundle(obj, changes))
