"""MISP objects of the templates ``file``, ``pe`` and ``pe-section`` converted by
misp-stix from their JSON, without PyMISP's load (``vigil.interop.misp_objects.
loaded_object``), give exactly what misp-stix gives after PyMISP's load: a file with
its PE extension and sections, a PE object or section on its own (misp-stix's custom
object), the same patterns, losses and references; on the real events, misp-stix's own
mapping examples, hand-made odd cases and random objects."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from tests.interop.misp_cases import DATA, EVENTS, MD5, SHA1, SHA256, _a, _both, _event, _o

from vigil.interop.misp import events_of, to_stix
from vigil.interop.misp_objects import LOADED_TEMPLATES, loaded_object

pytestmark = pytest.mark.usefixtures("quiet_misp")

P, OTHER = "Payload delivery", "Other"


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    taken: list[tuple[str, bool]] = []

    def counted(obj: Any) -> Any:
        out = loaded_object(obj)
        taken.append((str(obj.get("name")), out is not None))
        return out

    monkeypatch.setattr("vigil.interop.misp_parser.loaded_object", counted)
    return taken


def _ref(target: dict[str, Any], kind: str = "includes", n: int = 0) -> dict[str, Any]:
    return {"uuid": f"6c0d5cac-2ef4-4bae-baa4-{0xe000 + n:012x}",
            "referenced_uuid": target["uuid"], "relationship_type": kind,
            "Object": {"uuid": target["uuid"], "name": target["name"],
                       "meta-category": "file"}}


def _pe_group(base: int, sections: int = 2, to_ids: bool = True) -> list[dict[str, Any]]:
    """A file described by a PE object with its sections, linked as MISP links them."""
    n = iter(range(base * 100, base * 100 + 99))

    def a(*args: Any, **more: Any) -> dict[str, Any]:
        return _a(next(n), *args, **more)

    secs = [_o(base * 10 + 2 + i, "pe-section", "file", [
        a("name", "text", f".s{i}", to_ids=to_ids, category=OTHER),
        a("size-in-bytes", "size-in-bytes", str(512 * (i + 1)), to_ids=False, category=OTHER),
        a("entropy", "float", "6.25", to_ids=False, category=OTHER),
        a("md5", "md5", MD5.upper(), to_ids=to_ids, category=P),
        a("sha256", "sha256", SHA256, category=P)]) for i in range(sections)]
    pe = _o(base * 10 + 1, "pe", "file", [
        a("type", "text", "exe", category=OTHER),
        a("entrypoint-address", "text", "4096", to_ids=False, category=OTHER),
        a("original-filename", "filename", "orig.exe", category=P),
        a("internal-filename", "filename", "int.exe", category=P),
        a("number-sections", "counter", str(sections), to_ids=False, category=OTHER),
        a("imphash", "imphash", MD5, category=P),
        a("company-name", "text", "ACME", to_ids=False, category=OTHER)],
        ObjectReference=[_ref(s, n=base * 10 + i) for i, s in enumerate(secs)])
    file = _o(base * 10, "file", "file", [
        a("filename", "filename", "sample.exe", category=P),
        a("md5", "md5", MD5, category=P), a("sha1", "sha1", SHA1, category=P),
        a("size-in-bytes", "size-in-bytes", "4096", to_ids=False, category=OTHER)],
        ObjectReference=[_ref(pe, n=base * 10 + 9)])
    return [file, pe, *secs]


@pytest.mark.parametrize("name", EVENTS)
def test_real_events_equal_misp_stix(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for event in events_of(json.loads((DATA / name).read_text("utf-8"))):
        slow, fast, _ = _both(event, monkeypatch)
        assert fast == slow


def test_real_pe_objects_take_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """mainly_objects_1's PE objects and sections (linked without the referenced
    object's name, so misp-stix keeps each whole) take this path."""
    taken = _counted(monkeypatch)
    event = events_of(json.loads((DATA / "mainly_objects_1.json").read_text("utf-8")))[0]
    to_stix(copy.deepcopy(event))
    pe = [t for n, t in taken if n in ("pe", "pe-section")]
    assert len(pe) == 10 and all(pe)


def test_linked_pe_equals_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _counted(monkeypatch)
    objects = _pe_group(1) + _pe_group(2, sections=3, to_ids=False) + _pe_group(3, 0)
    slow, fast, _ = _both(_event(objects), monkeypatch)
    assert fast == slow
    files = [o for o in fast[0] if o["type"] == "file" and "extensions" in o]
    assert len(files) == 3 and len(files[1]["extensions"]["windows-pebinary-ext"]
                                    ["sections"]) == 3
    assert all(t for _, t in taken[-len(objects):])


def _odd_groups() -> list[tuple[str, list[dict[str, Any]]]]:
    out = []

    def group(base: int) -> list[dict[str, Any]]:
        return _pe_group(base)

    g = group(10)
    g[1]["Attribute"][5]["value"] = "0x2"  # a number-sections misp-stix keeps custom
    out.append(("a non-canonical number", g))
    g = group(11)
    g[2]["Attribute"][3]["value"] = MD5[:-1]  # a section hash of the wrong length
    out.append(("a wrong section hash", g))
    g = group(12)
    g[0]["ObjectReference"].append(_ref(group(13)[1], n=999))  # two PE objects
    out.append(("a file with two PE objects", g))
    g = group(14)
    g[1]["ObjectReference"].append(_ref({"uuid": "6b0d5cac-2ef4-4bae-baa4-0000000fffff",
                                         "name": "pe-section"}, n=998))
    out.append(("a PE naming a missing section", g))
    g = group(15)
    del g[0]["ObjectReference"][0]["Object"]  # not linked by name: each whole
    out.append(("a file and PE not linked by name", g))
    g = group(16)
    g[1]["Attribute"].append(_a(9999, "type", "text", "dll\x00", category=OTHER))
    out.append(("a NUL PyMISP strips", g))
    g = group(17)
    g[1]["template_version"] = "v2"
    out.append(("a template version PyMISP cannot read", g))
    g = group(18)
    g[0]["Attribute"].append(_a(9998, "path", "text", "C:\\x", category=OTHER))
    out.append(("a file with a path", g))
    g = group(19)
    g[2]["Attribute"][0]["Tag"] = [{"name": "tlp:green"}]
    out.append(("a tagged section attribute", g))
    g = group(20)  # PyMISP loads a datetime value as a datetime: misp-stix's load
    g[1]["Attribute"].append(_a(9997, "compilation-timestamp", "datetime",
                                "2017-01-01T10:00:00", to_ids=False, category=OTHER))
    out.append(("a compilation time", g))
    return out


@pytest.mark.parametrize("what,objects", _odd_groups(), ids=[w for w, _ in _odd_groups()])
def test_odd_pe_equals_misp_stix(what: str, objects: list[dict[str, Any]],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    slow, fast, _ = _both(_event(objects), monkeypatch)
    assert fast == slow


def test_mapping_examples_equal_misp_stix(shared_data: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """misp-stix's own examples of the file with PE and of PE with sections, as they
    are (no timestamps: misp-stix's load) and dated (this path)."""
    doc = shared_data / "misp" / "misp-stix" / "mapping" / "misp_objects_to_stix21.json"
    examples = json.loads(doc.read_text("utf-8"))
    taken = _counted(monkeypatch)
    for key in ("file with references to pe & pe-section(s)", "pe & pe-sections", "file"):
        objects = examples[key]["MISP"]
        objects = objects if isinstance(objects, list) else [objects]
        for dated in (False, True):
            objs = copy.deepcopy(objects)
            if dated:
                for o in objs:
                    o["timestamp"] = "1603642920"
            slow, fast, _ = _both(_event(objs), monkeypatch)
            assert fast == slow, key
    assert sum(t for n, t in taken if n in ("pe", "pe-section")) >= 3


_POOL = {
    "pe": [("type", "text", OTHER, "exe"), ("type", "text", OTHER, "dll"),
           ("entrypoint-address", "text", OTHER, "4096"),
           ("entrypoint-address", "text", OTHER, "0x1000"),
           ("original-filename", "filename", P, "o.exe"),
           ("internal-filename", "filename", P, "i.exe"),
           ("number-sections", "counter", OTHER, "3"), ("imphash", "imphash", P, MD5),
           ("impfuzzy", "impfuzzy", P, "48:x:y"), ("lang-id", "text", OTHER, "0409"),
           ("product-name", "text", OTHER, "it's")],
    "pe-section": [("name", "text", OTHER, ".text"), ("name", "text", OTHER, " .rsrc "),
                   ("md5", "md5", P, MD5.upper()),
                   ("size-in-bytes", "size-in-bytes", OTHER, "1024"),
                   ("entropy", "float", OTHER, "7.5"), ("entropy", "float", OTHER, "x"),
                   ("md5", "md5", P, MD5), ("sha1", "sha1", P, SHA1),
                   ("sha512", "sha512", P, "c" * 128),
                   ("characteristic", "text", OTHER, "read")],
}


def test_random_pe_equals_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(20261207)
    taken = _counted(monkeypatch)
    for round_ in range(6):
        objects = []
        for g in range(3):
            base = 40 + round_ * 3 + g
            group = _pe_group(base, sections=rng.randint(0, 3), to_ids=rng.random() < 0.5)
            for o in group[1:]:
                pool = _POOL[o["name"]]
                o["Attribute"] = [
                    _a(base * 1000 + 10 * int(o["uuid"][-4:], 16) % 997 + j, rel, kind,
                       value, to_ids=rng.random() < 0.5, category=cat)
                    for j, (rel, kind, cat, value) in
                    enumerate(rng.sample(pool, rng.randint(1, 5)))]
            if rng.random() < 0.3:
                group = group[1:]  # a PE without its file
            objects.extend(group)
        slow, fast, _ = _both(_event(objects), monkeypatch)
        assert fast == slow
    assert sum(t for n, t in taken if n in LOADED_TEMPLATES) >= 30
