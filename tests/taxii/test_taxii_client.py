"""A real `vigil serve` driven by the real taxii2-client package: discovery,
collections, paging through 10,000 objects, add_objects and status; every object it
returns is the object posted, and a sample of every shape passes stix2-validator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages
from tests.taxii.conftest import attack_objects, many_objects

from vigil.model import ChannelKind
from vigil.testing import ServerProcess, make_node, stix

OPTIONS = ValidationOptions(version="2.1", strict=False)


def errors_of(obj: dict[str, Any]) -> list[str]:
    result = validate_instance(obj, OPTIONS)
    return [str(e) for e in result.errors]


@pytest.mark.slow
def test_taxii2_client_pages_adds_and_reads_status(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "delta": False})
    a, b, d = (node.members[n] for n in ("alpha", "bravo", "delta"))
    ex = node.exchange()
    ex.create_channel(a.id, "a-b", ChannelKind.BILATERAL, [b.id])
    ex.store.close()
    objects = many_objects(10_000)
    with ServerProcess(node.data) as srv:
        for start in range(0, len(objects), 2_500):
            r = httpx.post(f"{srv.url}/api/v1/shares", params={"tlp": "green"},
                           content=stix.bundle(*objects[start:start + 2_500]),
                           headers={"Authorization": f"Bearer {a.token}"}, timeout=120)
            assert r.status_code == 201, r.text

        server = Server(f"{srv.url}/taxii2/", user="bravo", password=b.token)
        assert server.title.startswith("vigil node")
        root: ApiRoot = server.default
        assert root.url == f"{srv.url}/taxii2/api/"
        assert "application/taxii+json;version=2.1" in root.versions
        aliases = {c.alias: c for c in root.collections}
        assert {"inbox", "channel-a-b", "publish-community-green",
                "publish-channel-a-b-amber"} <= set(aliases)
        inbox: Collection = aliases["inbox"]
        assert inbox.can_read and not inbox.can_write

        seen: list[dict[str, Any]] = []
        pages = 0
        for envelope in as_pages(inbox.get_objects, per_request=1000):
            seen += envelope.get("objects", [])
            pages += 1
        assert pages == 10
        assert [o["id"] for o in seen] == [o["id"] for o in objects]
        assert seen == objects
        # every served object is what was posted; stix2-validator (~25 ms an object) reads
        # one whole lap of the ATT&CK subset (every shape) and each page's first and last
        edges = [k for p in range(0, len(seen), 1000) for k in (p, p + 999)]
        sample = [*range(len(attack_objects())), *edges]
        bad = {seen[k]["id"]: errs for k in sample if (errs := errors_of(seen[k]))}
        assert bad == {}

        manifest = [r for env in as_pages(inbox.get_manifest, per_request=4000)
                    for r in env.get("objects", [])]
        assert [m["id"] for m in manifest] == [o["id"] for o in objects]

        # add_objects to a publish collection: a sealed share to the channel a-b
        target: Collection = aliases["publish-channel-a-b-amber"]
        new = many_objects(10_050)[10_000:]
        status = target.add_objects({"objects": new})
        assert status.status == "complete"
        assert status.success_count == 50 and status.failure_count == 0
        assert {s["id"] for s in status.successes} == {o["id"] for o in new}
        again = root.get_status(status.id)
        assert again.success_count == 50

        # alpha reads it (the node holds alpha's keys) through its channel collection
        alpha_root = Server(f"{srv.url}/taxii2/", user="alpha", password=a.token).default
        ab = {c.alias: c for c in alpha_root.collections}["channel-a-b"]
        got = ab.get_objects()
        assert [o["id"] for o in got["objects"]] == [o["id"] for o in new]
        assert all(not errors_of(o) for o in got["objects"])
        one = ab.get_object(new[0]["id"])
        assert one["objects"] == [new[0]]
        versions = ab.object_versions(new[0]["id"])
        assert versions["versions"] == [new[0]["modified"]]

        # delta's keys are not on the node: the channel is not delta's, and its inbox
        # says why sealed shares are missing instead of looking empty
        delta_root = Server(f"{srv.url}/taxii2/", user="delta", password=d.token).default
        delta = {c.alias: c for c in delta_root.collections}
        assert "channel-a-b" not in delta
        assert "vigil gateway" in delta["inbox"].description
        # a status is its poster's only
        r = httpx.get(f"{srv.url}/taxii2/api/status/{status.id}/",
                      headers={"Authorization": f"Bearer {d.token}"})
        assert r.status_code == 404
        assert r.json()["error_code"] == "taxii.status_not_found"
        json.dumps(status._raw)  # the status resource is plain JSON


def test_taxii2_client_reads_writes_and_deletes_in_one_collection(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    a = node.members["alpha"]
    ind = {"type": "indicator", "spec_version": "2.1",
           "id": "indicator--0b9b2d3c-2f1e-4c8d-8e7f-6a5b4c3d2e55",
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
           "pattern": "[ipv4-addr:value = '198.51.100.9']", "pattern_type": "stix",
           "valid_from": "2026-01-01T00:00:00Z", "indicator_types": ["malicious-activity"]}
    with ServerProcess(node.data) as srv:
        root = Server(f"{srv.url}/taxii2/", user="alpha", password=a.token).default
        coll = {c.alias: c for c in root.collections}["publish-community-green"]
        assert coll.can_read and coll.can_write
        status = coll.add_objects({"objects": [ind]})
        assert status.success_count == 1
        assert [o["id"] for o in coll.get_objects()["objects"]] == [ind["id"]]
        assert coll.get_object(ind["id"])["objects"] == [ind]
        coll.delete_object(ind["id"])  # a recall of alpha's share
        assert coll.get_objects().get("objects", []) == []
