"""The direct MISP -> STIX path for common MISP objects (``vigil.interop.misp_objects``)
gives exactly what misp-stix gives: every object of the real PyMISP test events, of
misp-stix's mapping examples and of random objects, field for field, in the same order,
with the same losses (each template in its usual and odd forms:
tests/interop/test_misp_templates.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from tests.interop.misp_cases import (
    DATA,
    EVENTS,
    MD5,
    SHA1,
    SHA256,
    P,
    _a,
    _both,
    _counted,
    _event,
    _o,
)

from vigil.interop.misp import events_of, to_stix
from vigil.interop.misp_objects import TEMPLATES, relationship

pytestmark = pytest.mark.usefixtures("quiet_misp")



@pytest.mark.parametrize("name", EVENTS)
def test_real_events_equal_misp_stix(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for event in events_of(json.loads((DATA / name).read_text("utf-8"))):
        slow, fast, _ = _both(event, monkeypatch)
        assert fast[0] == slow[0]
        assert fast[1] == slow[1]


def test_real_objects_mostly_take_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """The equality above is about the direct path: the real events' objects of the
    templates it covers take it (59 of 60; the other holds an ssdeep PyMISP
    refuses)."""
    taken = _counted(monkeypatch)
    for name in EVENTS:
        for event in events_of(json.loads((DATA / name).read_text("utf-8"))):
            to_stix(copy.deepcopy(event))
    covered = [t for n, t in taken if n in TEMPLATES]
    assert sum(covered) >= 59 and sum(covered) >= len(covered) - 3
    assert not any(t for n, t in taken if n not in TEMPLATES)


def test_relationship_only_for_plain_arguments() -> None:
    from datetime import UTC, datetime

    at = datetime(2020, 1, 1, tzinfo=UTC)
    args = {"id": "relationship--6c0d5cac-2ef4-4bae-baa4-000000000001",
            "source_ref": "indicator--6c0d5cac-2ef4-4bae-baa4-000000000002",
            "target_ref": "observed-data--6c0d5cac-2ef4-4bae-baa4-000000000003",
            "relationship_type": "based-on", "created": at, "modified": at,
            "allow_custom": True, "interoperability": True}
    ready = relationship(args)
    assert ready is not None and ready["created"] == "2020-01-01T00:00:00.000Z"
    assert relationship({**args, "description": "x"}) is None
    assert relationship({**args, "created": at.replace(microsecond=5)}) is None
    assert relationship({**args, "target_ref": "sighting--6c0d5cac-2ef4-4bae-baa4-"
                                               "000000000003"}) is None
    assert relationship({**args, "id": "relationship--x"}) is None


def test_mapping_examples_equal_misp_stix(shared_data: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """misp-stix's own documentation examples of the templates."""
    doc = shared_data / "misp" / "misp-stix" / "mapping" / "misp_objects_to_stix21.json"
    examples = json.loads(doc.read_text("utf-8"))
    objects = [v["MISP"] for k, v in examples.items() if k.split()[0] in TEMPLATES
               and isinstance(v["MISP"], dict)]
    taken = _counted(monkeypatch)
    slow, fast, _ = _both(_event(objects), monkeypatch)
    assert fast == slow
    assert sum(t for _, t in taken[-len(objects):]) >= 1  # domain-ip (the ip-port one has times)


def test_shared_events_equal_misp_stix(shared_data: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The real events of the shared data set (the same PyMISP test events and those
    not copied here, such as galaxy_1)."""
    for path in sorted((shared_data / "misp" / "events" / "pymisp").glob("*.json")):
        doc = json.loads(path.read_text("utf-8"))
        if isinstance(doc, list):
            continue  # sharing groups
        for event in events_of(doc):
            slow, fast, _ = _both(event, monkeypatch)
            assert fast == slow, path.name


def test_import_validates_each_object_once(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """An imported event's bundle is written from the objects the validator passed at
    conversion; the publish does not parse or validate it again, and what it stores
    is a valid bundle of those objects."""
    from vigil.interop.misp_exchange import import_events
    from vigil.model import Actor
    from vigil.node import bundle_pool
    from vigil.stix.validate import validate_bundle
    from vigil.testing import make_node

    calls: list[int] = []
    real = bundle_pool.check_bundle

    def counted(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(bundle_pool, "check_bundle", counted)
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        actor = Actor(node.members["alpha"].id, "test")
        event = events_of(json.loads((DATA / "existing_event.json").read_text("utf-8")))[0]
        reports = import_events(ex, actor, [event], to=["community"], tlp="clear")
        assert "share" in reports[0], reports[0]
        assert calls == []
        row = ex.store.get_share(reports[0]["share"]["id"])
        assert row is not None
        plain = ex.open(actor.member, row[0])
        assert plain is not None
        objects = json.loads(plain)["objects"]
        assert validate_bundle(json.loads(plain)).objects == len(objects) == \
            reports[0]["objects"]
    finally:
        ex.store.close()


_POOL: dict[str, list[tuple[str, str, str, str]]] = {
    # template -> (relation, type, category, value)
    "domain-ip": [("domain", "domain", "Network activity", "a.example"),
                  ("domain", "domain", "Network activity", "B.Example"),
                  ("hostname", "hostname", "Network activity", "h.example"),
                  ("ip", "ip-dst", "Network activity", "198.51.100.1"),
                  ("ip", "ip-dst", "Network activity", "2001:db8::7"),
                  ("port", "port", "Network activity", "8080"),
                  ("text", "text", "Other", "o'clock \\ text"),
                  ("registration-date", "datetime", "Other", "2017-01-01T00:00:00")],
    "ip-port": [("ip", "ip-dst", "Network activity", "198.51.100.2"),
                ("ip-src", "ip-src", "Network activity", "198.51.100.3"),
                ("ip-dst", "ip-dst", "Network activity", "2001:db8::8"),
                ("dst-port", "port", "Network activity", "443"),
                ("src-port", "port", "Network activity", "65535"),
                ("protocol", "text", "Other", "tcp"),
                ("domain", "domain", "Network activity", "c.example"),
                ("hostname", "hostname", "Network activity", "d.example"),
                ("text", "text", "Other", "note")],
    "file": [("filename", "filename", P, "x.exe"), ("filename", "filename", P, "y'.dll"),
             ("md5", "md5", P, MD5), ("sha1", "sha1", P, SHA1),
             ("sha256", "sha256", P, SHA256), ("sha1", "sha1", P, "b" * 40),
             ("size-in-bytes", "size-in-bytes", "Other", "42"),
             ("mimetype", "mime-type", "Artifacts dropped", "text/plain"),
             ("file-encoding", "text", "Other", "UTF-8"),
             ("entropy", "float", "Other", "3.5"), ("state", "text", "Other", "Harmless"),
             ("fullpath", "text", "Other", "C:\\x\\y.exe"),
             ("tlsh", "tlsh", P, "T1" + "A" * 70)],
}


def test_random_objects_equal_misp_stix(monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects of random relations from each template's usual ones (repeated, for IDS
    or not): the same objects both ways, whichever path each takes."""
    import random

    rng = random.Random(20261207)
    objects = []
    for i in range(60):
        name = ("domain-ip", "ip-port", "file")[i % 3]
        pool = _POOL[name]
        picked = [rng.choice(pool) for _ in range(rng.randint(1, 6))]
        attributes = [_a(1000 + 10 * i + j, rel, kind, value, to_ids=rng.random() < 0.5,
                         category=cat) for j, (rel, kind, cat, value) in enumerate(picked)]
        objects.append(_o(100 + i, name, {"file": "file"}.get(name, "network"),
                          attributes))
    taken = _counted(monkeypatch)
    for i in range(0, len(objects), 20):
        slow, fast, _ = _both(_event(objects[i:i + 20]), monkeypatch)
        assert fast == slow
    assert sum(t for _, t in taken) >= 30
