"""An event's tags and galaxies read without PyMISP's load (``vigil.interop.misp_galaxies``)
and their objects written directly (``vigil.interop.misp_sdo``) give exactly what
misp-stix gives: the cluster objects (ids, names, labels, external references,
aliases, custom properties), the report's labels and markings, the same losses; on
the real events and on hand-made and random galaxies of every type misp-stix maps."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import pytest
from tests.interop.misp_cases import DATA, EVENTS, ORG, _both

from vigil.errors import InputError
from vigil.interop.misp import events_of, to_stix
from vigil.interop.misp_galaxies import plain_galaxies, plain_tags

pytestmark = pytest.mark.usefixtures("quiet_misp")



def _counted(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each event's galaxies took the direct path."""
    taken: list[bool] = []

    def counted(galaxies: Any) -> Any:
        out = plain_galaxies(galaxies)
        taken.append(out is not None)
        return out

    monkeypatch.setattr("vigil.interop.misp_parser.plain_galaxies", counted)
    return taken


def _sdo_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    from vigil.interop import misp_sdo

    calls: list[tuple[str, bool]] = []

    def counted(cls: Any, args: dict[str, Any]) -> Any:
        out = misp_sdo.ready(cls, args)
        calls.append((cls._type, out is not None))
        return out

    monkeypatch.setattr("vigil.interop.misp_parser.ready", counted)
    return calls


def test_real_events_take_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The equality of the real events (``test_misp_fast``, ``test_misp_objects``) is
    about this path: their galaxies and tags take it, and their cluster objects are
    written directly (all but none)."""
    taken = _counted(monkeypatch)
    calls = _sdo_calls(monkeypatch)
    with_galaxies = 0
    for name in EVENTS:
        for event in events_of(json.loads((DATA / name).read_text("utf-8"))):
            with_galaxies += bool(event["Event"].get("Galaxy"))
            to_stix(copy.deepcopy(event))
    assert with_galaxies >= 3 and all(taken)
    clusters = [ok for kind, ok in calls if kind != "identity"]
    assert len(clusters) >= 17 and all(clusters)


@pytest.mark.parametrize("name", EVENTS)
def test_real_events_equal_misp_stix(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for event in events_of(json.loads((DATA / name).read_text("utf-8"))):
        slow, fast, _ = _both(event, monkeypatch)
        assert fast == slow


GALAXY_TYPES = {
    "mitre-attack-pattern": "Attack Pattern", "mitre-malware": "Malware",
    "malpedia": "Malpedia", "tool": "Tool", "exploit-kit": "Exploit-Kit",
    "threat-actor": "Threat Actor", "mitre-intrusion-set": "Intrusion Set",
    "mitre-course-of-action": "Course of Action", "branded-vulnerability": "Vulnerability",
    "sector": "Sector", "country": "Country", "stix-2.1-campaign": "Campaign",
    "guidelines": "Guidelines", "ransomware": "Ransomware", "rat": "RAT",
}

META = [
    {}, {"refs": ["https://example.org/a", "https://example.org/b"]},
    {"synonyms": ["Alias One", "Alias Two"], "country": ["RU"]},
    {"external_id": ["T1566.001"], "kill_chain": ["mitre-attack:initial-access"]},
    {"refs": "https://example.org/one", "status": ["Active"], "cfr-suspected-victims":
     ["Germany"], "is_family": ["true"]},
    {"Weird Key": ["x"], "x_misp_names": ["y"]},
    {"date": ["2017-01-01"], "first_seen": ["2017-01-01T00:00:00Z"]},
]


def _cluster(i: int, kind: str, value: str, meta: dict[str, Any], **more: Any
             ) -> dict[str, Any]:
    out = {"uuid": f"7a0d5cac-2ef4-4bae-baa4-{i:012x}", "type": kind, "value": value,
           "description": f"cluster {i}", "tag_name": f'misp-galaxy:{kind}="{value}"',
           "meta": meta, "distribution": "3", "default": True, "id": str(1000 + i)}
    out.update(more)
    return out


def _galaxy(kind: str, clusters: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"uuid": "6ab240ec-bd79-11e6-a4a6-cec0c932ce01", "type": kind,
            "name": GALAXY_TYPES.get(kind, kind), "description": f"the {kind} galaxy",
            "GalaxyCluster": clusters, **more}


def _event(tags: Any = None, galaxies: Any = None, **more: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "uuid": "5a0d5bf4-99c8-4f15-9879-22b1950d210f", "info": "galaxies",
        "timestamp": "1511183733", "date": "2017-11-14", "Orgc": ORG, "analysis": "2",
        "threat_level_id": "3", "published": False,
        "Attribute": [{"uuid": "5a0d5cac-2ef4-4bae-baa4-000000000000", "type": "ip-dst",
                       "value": "198.51.100.99", "category": "Network activity",
                       "to_ids": True, "timestamp": "1510922092"}]}
    if tags is not None:
        ev["Tag"] = tags
    if galaxies is not None:
        ev["Galaxy"] = galaxies
    ev.update(more)
    return {"Event": ev}


def _tags(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "colour": "#ffffff", "exportable": True, "id": str(i)}
            for i, n in enumerate(names)]


TAGS = ["tlp:amber", "tlp:clear", "tlp:amber+strict", "PAP:GREEN",
        'misp:confidence-level="usually-confident"',
        'misp:confidence-level="rarely-confident"', 'admiralty-scale:source-reliability="b"',
        'osint:source-type="blog-post"', 'misp-galaxy:tool="Mimikatz"', "Ключ", "it's"]


def _all_galaxies() -> list[dict[str, Any]]:
    out = []
    n = 0
    for kind in GALAXY_TYPES:
        clusters = []
        for j, meta in enumerate(META):
            n += 1
            value = f"Thing {n} - T{1000 + n}" if j % 2 else f"Thing {n}"
            clusters.append(_cluster(n, kind, value, copy.deepcopy(meta)))
        out.append(_galaxy(kind, clusters))
    return out


def test_every_galaxy_type_equals_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = _counted(monkeypatch)
    calls = _sdo_calls(monkeypatch)
    slow, fast, _ = _both(_event(_tags(*TAGS), _all_galaxies()), monkeypatch)
    assert fast == slow
    assert taken[-1] is True
    kinds = {kind for kind, ok in calls if ok}
    assert {"attack-pattern", "malware", "tool", "threat-actor", "intrusion-set",
            "course-of-action", "vulnerability", "identity", "campaign",
            "x-misp-galaxy-cluster"} <= kinds
    types = {o["type"] for o in fast[0]}
    assert {"location", "marking-definition"} <= types


@pytest.mark.parametrize("kind", sorted(GALAXY_TYPES))
def test_each_galaxy_alone_equals_misp_stix(kind: str, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    galaxies = [g for g in _all_galaxies() if g["type"] == kind]
    slow, fast, _ = _both(_event(_tags("tlp:green"), galaxies), monkeypatch)
    assert fast == slow


ODD: list[tuple[str, Any, Any]] = [
    # (what, tags, galaxies): PyMISP's load would change them, so misp-stix's path
    ("the same tag twice", _tags("tlp:green", "tlp:green"), None),
    ("a tag without a name", [{"colour": "#fff"}], None),
    ("a tag in PyMISP's nested form", [{"Tag": {"name": "tlp:green"}}], None),
    ("a null in a tag", [{"name": "tlp:green", "colour": None}], None),
    ("a cluster with elements", None,
     [_galaxy("tool", [_cluster(1, "tool", "T", {}, GalaxyElement=[
         {"key": "refs", "value": "https://example.org"}])])]),
    ("a cluster for a sharing group", None,
     [_galaxy("tool", [_cluster(2, "tool", "T", {}, distribution="4",
                                sharing_group_id="1")])]),
    ("a cluster of distribution 7", None,
     [_galaxy("tool", [_cluster(3, "tool", "T", {}, distribution="7")])]),
    ("a null in a cluster", None, [_galaxy("tool", [_cluster(4, "tool", "T", {},
                                                            description=None)])]),
    ("a galaxy without description", None,
     [{k: v for k, v in _galaxy("tool", [_cluster(5, "tool", "T", {})]).items()
       if k != "description"}]),
    ("a galaxy in PyMISP's nested form", None,
     [{"Galaxy": {"type": "tool", "name": "Tool"},
       "GalaxyCluster": [_cluster(6, "tool", "T", {})]}]),
]


@pytest.mark.parametrize("what,tags,galaxies", ODD, ids=[w for w, _, _ in ODD])
def test_odd_tags_and_galaxies_stay_misp_stixs(what: str, tags: Any, galaxies: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    assert plain_tags(tags) is None or plain_galaxies(galaxies) is None
    event = _event(tags, galaxies)
    try:
        to_stix(copy.deepcopy(event), fast=False)
    except InputError as exc:  # misp-stix refuses the event: so does the direct path
        with pytest.raises(InputError) as direct:
            to_stix(copy.deepcopy(event))
        assert str(direct.value) == str(exc)
        return
    slow, fast, _ = _both(event, monkeypatch)
    assert fast == slow


def test_galaxies_of_attributes_and_objects_equal_misp_stix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An attribute's galaxy (misp-stix's relationships to the cluster) beside the
    event's, and a cluster both name."""
    shared = _all_galaxies()[0]
    event = _event(_tags("tlp:green"), [shared])
    attribute = dict(event["Event"]["Attribute"][0])
    attribute.update(uuid="5a0d5cac-2ef4-4bae-baa4-000000000001", Galaxy=[shared],
                     Tag=_tags("tlp:red"))
    event["Event"]["Attribute"].append(attribute)
    slow, fast, _ = _both(event, monkeypatch)
    assert fast == slow


def test_random_tags_and_galaxies_equal_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(20261207)
    pool = _all_galaxies()
    for _ in range(12):
        galaxies = []
        for g in rng.sample(pool, rng.randint(0, 4)):
            g = copy.deepcopy(g)
            g["GalaxyCluster"] = rng.sample(g["GalaxyCluster"],
                                            rng.randint(1, len(g["GalaxyCluster"])))
            galaxies.append(g)
        tags = _tags(*rng.sample(TAGS, rng.randint(0, 5)))
        published = rng.random() < 0.5
        more = {"published": True, "publish_timestamp": "1511183800"} if published else {}
        slow, fast, _ = _both(_event(tags, galaxies, **more), monkeypatch)
        assert fast == slow


def test_shared_events_equal_misp_stix(shared_data: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared data set's events, galaxy_1 among them (its galaxies on the event and
    on tagged attributes)."""
    taken = _counted(monkeypatch)
    for path in sorted((shared_data / "misp" / "events" / "pymisp").glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        if isinstance(doc, list):
            continue
        for event in events_of(doc):
            slow, fast, _ = _both(event, monkeypatch)
            assert fast == slow, path.name
    assert taken and all(taken)


def _tagged(i: int, tags: list[str], to_ids: bool, kind: str = "ip-dst",
            value: str = "198.51.100.1") -> dict[str, Any]:
    category = "Payload delivery" if kind in ("md5", "filename") else "Network activity"
    return {"uuid": f"5b0d5cac-2ef4-4bae-baa4-{i:012x}", "type": kind, "value": value,
            "category": category, "to_ids": to_ids,
            "timestamp": str(1510922092 + i), "comment": f"attribute {i}",
            "Tag": _tags(*tags)}


def test_tagged_attributes_equal_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tagged attributes of the direct path's types: labels, TLP markings (each marking
    object once, where misp-stix puts it), the lowest confidence; random tags, for IDS
    or not, beside tagged events."""
    rng = random.Random(7)
    kinds = [("ip-dst", "198.51.100.{}"), ("domain", "d{}.example"),
             ("md5", "{:032x}"), ("url", "https://u{}.example/x"),
             ("email-src", "a{}@example.org"), ("filename", "f{}.exe")]
    for round_ in range(6):
        attributes = []
        for i in range(12):
            kind, form = kinds[(i + round_) % len(kinds)]
            attributes.append(_tagged(100 * round_ + i, rng.sample(TAGS, rng.randint(1, 4)),
                                      rng.random() < 0.6, kind, form.format(i)))
        event = _event(_tags(*rng.sample(TAGS, rng.randint(0, 3))),
                       Attribute=attributes)
        slow, fast, taken = _both(event, monkeypatch)
        assert fast == slow
        assert taken == 12


def test_shared_galaxy_clusters_equal_misp_stix(shared_data: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Real clusters with their real meta (MISP's threat-actor, sector and country
    galaxies in the shared data set) as an event's galaxies: the same objects, and
    the threat actors and sectors written directly."""
    calls = _sdo_calls(monkeypatch)
    root = shared_data / "misp" / "galaxies"
    for name, count in (("threat-actor", 300), ("sector", 200), ("country", 60)):
        galaxy = json.loads((root / "galaxies" / f"{name}.json").read_text("utf-8"))
        values = json.loads((root / "clusters" / f"{name}.json").read_text("utf-8"))
        clusters = [{"uuid": v["uuid"], "type": galaxy["type"], "value": v["value"],
                     "tag_name": f'misp-galaxy:{galaxy["type"]}="{v["value"]}"',
                     "distribution": "3",
                     **{k: v[k] for k in ("description", "meta") if k in v}}
                    for v in values["values"][:count]]
        for i in range(0, len(clusters), 100):
            event = _event(_tags("tlp:green"), [{
                "uuid": galaxy["uuid"], "type": galaxy["type"], "name": galaxy["name"],
                "description": galaxy["description"],
                "GalaxyCluster": copy.deepcopy(clusters[i:i + 100])}])
            slow, fast, _ = _both(event, monkeypatch)
            assert fast == slow, name
    direct = [kind for kind, ok in calls if ok]
    assert direct.count("threat-actor") == 300 and direct.count("identity") >= 100
