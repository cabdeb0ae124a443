"""MISP events in and out through the node's API (misp-stix and PyMISP): round trips
MISP -> vigil -> MISP on real PyMISP test events and on events built with PyMISP, with
every loss listed by the importer and asserted here; audiences never wider than the
event's; dangling references resolved or refused."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pymisp import MISPEvent, MISPObject, MISPOrganisation
from tests.conftest import four_member_exchange

from vigil.bus.local import LocalBus
from vigil.interop.misp import Loss, resolve_references
from vigil.stix import strictjson
from vigil.testing import TestNode
from vigil.web import create_app
from vigil.web.deps import State

DATA = Path(__file__).resolve().parents[1] / "data" / "misp"
FIELDS = ("value", "type", "category", "to_ids", "comment")  # and tags, per attribute
# tags misp-stix's importer adds to every event it reads back
ADDED_TAGS = {'misp:tool="MISP-STIX-Converter"', "Threat-Report"}


class Api:
    def __init__(self, node: TestNode, client: TestClient) -> None:
        self.node, self.client = node, client

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node.members[name].token}"}

    def import_(self, name: str, doc: Any, **params: Any) -> Any:
        r = self.client.post("/api/v1/import/misp", params=params,
                             content=json.dumps(doc).encode(), headers=self.h(name))
        assert r.status_code == 200, r.text
        return r.json()["events"]

    def export(self, name: str) -> list[dict[str, Any]]:
        r = self.client.get("/api/v1/export/misp", headers=self.h(name))
        assert r.status_code == 200, r.text
        assert r.json()["skipped"] == []
        return list(r.json()["events"])


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    logging.getLogger("misp_stix_converter").setLevel(logging.ERROR)
    node, ex = four_member_exchange(tmp_path / "node")
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as client:
        yield Api(node, client)
    ex.store.close()


def event_of(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text("utf-8"))
    return doc if "Event" in doc else {"Event": doc}


def differences(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """What differs between two MISP events on the fields a round trip keeps: per
    attribute (by uuid) value, type, category, to_ids, comment ('' and none alike) and
    tags; per object (by uuid) name and attributes; the galaxies' clusters; the
    event's tags (less those the importer adds)."""
    b, a = before["Event"], after["Event"]
    out: set[str] = set()

    def attrs(items: Any) -> dict[str, dict[str, Any]]:
        return {x["uuid"]: x for x in items or ()}

    def tags(x: dict[str, Any]) -> set[str]:
        return {t["name"] for t in x.get("Tag") or ()}

    def compare(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]],
                where: str) -> None:
        for u in old.keys() - new.keys():
            out.add(f"{where}/{u}: missing")
        for u in old.keys() & new.keys():
            for f in FIELDS:
                x, y = old[u].get(f), new[u].get(f)
                if (x or None) != (y or None) and not (f == "to_ids" and bool(x) == bool(y)):
                    out.add(f"{where}/{u}/{f}")
            if tags(old[u]) != tags(new[u]):
                out.add(f"{where}/{u}/Tag")

    compare(attrs(b.get("Attribute")), attrs(a.get("Attribute")), "Attribute")
    objs_b, objs_a = attrs(b.get("Object")), attrs(a.get("Object"))
    for u in objs_b.keys() - objs_a.keys():
        out.add(f"Object/{u}: missing")
    for u in objs_b.keys() & objs_a.keys():
        if objs_b[u]["name"] != objs_a[u]["name"]:
            out.add(f"Object/{u}/name")
        # misp-stix gives an object's attributes new uuids: compared by what they hold
        if inner(objs_b[u]) != inner(objs_a[u]):
            out.add(f"Object/{u}/Attribute {inner(objs_b[u]) ^ inner(objs_a[u])}")

    def clusters(e: dict[str, Any]) -> set[tuple[str, str]]:
        return {(" ".join(str(g.get("type")).split()).replace(" ", ""), str(c["value"]))
                for g in e.get("Galaxy") or () for c in g.get("GalaxyCluster") or ()}

    for c in clusters(b) ^ clusters(a):
        out.add(f"Galaxy {c}")
    for t in tags(b) - tags(a):
        out.add(f"Tag {t}: missing")
    for t in tags(a) - tags(b) - ADDED_TAGS:
        if not (t.startswith("misp-galaxy:producer=") or (t.startswith("misp-galaxy:")
                and any(t.endswith(f'="{v}"') for _, v in clusters(b)))):
            out.add(f"Tag {t}: added")
    return out


def inner(obj: dict[str, Any]) -> set[tuple[Any, ...]]:
    return {(a.get("object_relation"), a.get("type"), a.get("value"), a.get("category"),
             bool(a.get("to_ids")), a.get("comment") or None)
            for a in obj.get("Attribute") or ()}


def loss_uuids(event: dict[str, Any], losses: list[dict[str, str]]) -> set[str]:
    """The uuids of the MISP attributes and objects the importer's losses point at."""
    out = set()
    for loss in losses:
        node: Any = event
        for part in loss["pointer"].strip("/").split("/"):
            node = node[int(part)] if part.isdigit() else node[part]
        out.add(node["uuid"])
    return out


REAL = sorted(DATA.glob("*.json"))


@pytest.mark.parametrize("path", REAL, ids=[p.stem[:20] for p in REAL])
def test_real_events_round_trip(api: Api, path: Path) -> None:
    before = event_of(path)
    [rep] = api.import_("alpha", before, to="community", tlp="clear")
    assert "error" not in rep, rep
    [out] = api.export("bravo")
    after = out["event"]
    MISPEvent().from_dict(**copy.deepcopy(after))  # PyMISP loads what vigil gives out
    assert out["losses"] == []
    diff = differences(before, after)
    # what did not come back is what the importer reported lost, one by one
    lost = loss_uuids(before, rep["losses"])
    assert {d for d in diff if not any(u in d for u in lost)} == set(), diff
    if path.stem == "mainly_objects_1":  # two PE objects misp-stix cannot convert
        assert [(x["pointer"], x["code"]) for x in rep["losses"]] == [
            ("/Event/Object/8", "misp.conversion_error"),
            ("/Event/Object/14", "misp.conversion_error")]
    else:
        assert rep["losses"] == []


def built_event() -> MISPEvent:
    """An event as an analyst would write it in MISP, built with PyMISP."""
    ev = MISPEvent()
    ev.info = "vigil round trip"
    ev.distribution = 1
    ev.uuid = str(uuid.uuid4())
    org = MISPOrganisation()
    org.from_dict(name="CERT-EE", uuid="5f0c5b3e-1d1a-4e0b-9a53-3c4f2a1b0c9d")
    ev.Orgc = org  # as MISP writes every event it exports
    for tag in ("tlp:amber", "PAP:RED", 'admiralty-scale:source-reliability="b"',
                'europol-incident:malware="infected-by-known-botnet"', "type:OSINT"):
        ev.add_tag(tag)
    ev.add_attribute("ip-dst", "198.51.100.23", category="Network activity", to_ids=True,
                     comment="C2 seen 2026-11-02", Tag=[{"name": "kill-chain:Command"}])
    ev.add_attribute("domain", "update.example-c2.net", to_ids=True)
    ev.add_attribute("sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                     category="Payload delivery", to_ids=True)
    ev.add_attribute("url", "https://drop.example-c2.net/a.bin", to_ids=False,
                     comment="download page")
    ev.add_attribute("text", "internal note", distribution=0)  # organisation only
    f = MISPObject("file")
    f.add_attribute("filename", "a.bin")
    f.add_attribute("md5", "e99a18c428cb38d5f260853678922e03")
    ev.add_object(f)
    ev.add_galaxy(type="mitre-attack-pattern", name="Attack Pattern", uuid=str(uuid.uuid4()),
                  GalaxyCluster=[{"type": "mitre-attack-pattern",
                                  "value": "Spearphishing Attachment - T1566.001",
                                  "uuid": "2e34237d-8574-43f6-aace-ae2915de8597",
                                  "tag_name": 'misp-galaxy:mitre-attack-pattern='
                                              '"Spearphishing Attachment - T1566.001"'}])
    return ev


def test_a_pymisp_event_round_trips_with_its_handling(api: Api) -> None:
    ev = built_event()
    before = json.loads(ev.to_json())
    before = before if "Event" in before else {"Event": before}
    [rep] = api.import_("alpha", before, to="community")
    assert "error" not in rep, rep
    assert rep["tlp"] == "amber" and rep["share"]["tlp"] == "amber"
    assert rep["codes"] == ["admiralty-scale:source-reliability=b",
                            "europol-incident:malware=infected-by-known-botnet", "pap:red"]
    # the organisation-only attribute is not shared, and says so
    assert [(x["pointer"], x["code"], x["reason"]) for x in rep["losses"]] == [
        ("/Event/Attribute/4", "misp.distribution_narrower",
         "its distribution 0 is narrower than the audience")]
    [out] = api.export("bravo")
    after = out["event"]
    loaded = MISPEvent()
    loaded.from_dict(**copy.deepcopy(after))  # (it takes the dict apart)
    assert {a.value for a in loaded.attributes} == {
        "198.51.100.23", "update.example-c2.net",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "https://drop.example-c2.net/a.bin"}
    assert differences(before, after) == {
        f"Attribute/{before['Event']['Attribute'][4]['uuid']}: missing"}
    ap = [o for o in api_objects(api, "bravo") if o["type"] == "attack-pattern"]
    assert [o["name"] for o in ap] == ["Spearphishing Attachment"]  # ATT&CK as STIX:
    assert {"source_name": "mitre-attack", "external_id": "T1566.001"} in \
        ap[0]["external_references"]
    shares = api.client.get("/api/v1/inbox", headers=api.h("bravo")).json()["entries"]
    assert shares[0]["envelope"]["header"]["handling"]["codes"] == rep["codes"]


def api_objects(api: Api, name: str) -> list[dict[str, Any]]:
    shares = api.client.get("/api/v1/inbox", headers=api.h(name)).json()["entries"]
    out = []
    for s in shares:
        r = api.client.get(f"/api/v1/shares/{s['share_id']}/content", headers=api.h(name))
        out += r.json()["objects"]
    return out


def test_the_audience_is_never_wider_than_the_event(api: Api) -> None:
    ev = json.loads(built_event().to_json())
    ev = ev if "Event" in ev else {"Event": ev}
    [rep] = api.import_("alpha", ev)  # no audience named: a report, nothing published
    assert rep["proposal"]["to"] == ["community"] and "share" not in rep
    assert api.export("bravo") == []
    group = json.loads(json.dumps(ev))
    group["Event"]["distribution"] = 4
    group["Event"]["SharingGroup"] = {"name": "Group1"}
    [rep] = api.import_("alpha", group)
    assert rep["proposal"]["to"] == ["group1"]  # the member's channel of that name
    [rep] = api.import_("alpha", group, to="community")
    assert rep["error"]["code"] == "misp.audience_wider"
    [rep] = api.import_("alpha", group, to="group1")
    assert "share" in rep
    own = json.loads(json.dumps(ev))
    own["Event"]["distribution"] = 0
    [rep] = api.import_("alpha", own, to="group1")
    assert rep["error"]["code"] == "misp.org_only"
    [rep] = api.import_("alpha", ev, to="community", tlp="green")  # wider than the tag
    assert rep["error"]["code"] == "misp.tlp_wider"
    assert len(api.export("charlie")) == 0  # not in group1; nothing else was published


def test_dangling_references_are_resolved_or_refused() -> None:
    ind = {"type": "indicator", "id": "indicator--" + str(uuid.uuid4())}
    gone = "malware--" + str(uuid.uuid4())
    rel = {"type": "relationship", "id": "relationship--" + str(uuid.uuid4()),
           "source_ref": ind["id"], "target_ref": gone}
    sight = {"type": "sighting", "id": "sighting--" + str(uuid.uuid4()),
             "sighting_of_ref": rel["id"]}
    group = {"type": "grouping", "id": "grouping--" + str(uuid.uuid4()),
             "object_refs": [ind["id"], gone, rel["id"]]}
    losses: list[Loss] = []
    kept = resolve_references([ind, rel, sight, group], lambda i: f"/x/{i}", losses)
    assert [o["id"] for o in kept] == [ind["id"], group["id"]]
    assert kept[1]["object_refs"] == [ind["id"]]  # the container keeps what is there
    assert [(x.stix_id, x.code) for x in losses] == [
        (rel["id"], "misp.dangling_reference"), (sight["id"], "misp.dangling_reference")]


def test_not_an_event_is_refused(api: Api) -> None:
    r = api.client.post("/api/v1/import/misp", content=b'{"foo": 1}', headers=api.h("alpha"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "misp.not_an_event"


def on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_imports_exports_and_feed_are_the_members_heavy_work(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    heavy: list[str] = []
    real_heavy = State.heavy

    async def counted(self: State, member: str, fn: Any, *a: Any, **kw: Any) -> Any:
        heavy.append(member)
        return await real_heavy(self, member, fn, *a, **kw)

    parsed: list[bool] = []
    real_loads = strictjson.loads

    def loads(*a: Any, **kw: Any) -> Any:
        parsed.append(on_loop())
        return real_loads(*a, **kw)

    monkeypatch.setattr(State, "heavy", counted)
    monkeypatch.setattr(strictjson, "loads", loads)
    alpha = api.node.members["alpha"].id
    h = api.h("alpha")
    event = (DATA / "existing_event.json").read_bytes()
    r = api.client.post("/api/v1/import/misp", content=event, headers=h)
    assert r.status_code == 200, r.text
    assert heavy == [alpha] and parsed and not any(parsed)
    r = api.client.post("/api/v1/import/misp", content=b'{"foo": 1}', headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "misp.not_an_event"
    r = api.client.post("/api/v1/import/text", params={"to": "community", "tlp": "green"},
                        content=b"evil.example.com\n198.51.100.7\n", headers=h)
    assert r.status_code == 200 and r.json()["found"] == 2 and "share" in r.json()
    r = api.client.post("/api/v1/import/text", params={"to": "community"},
                        content=b"evil.example.com\n", headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "input.tlp"
    assert api.client.get("/api/v1/export/misp", headers=h).status_code == 200
    assert api.client.get("/api/v1/misp-feed/manifest.json", headers=h).status_code == 200
    assert heavy == [alpha] * 6
