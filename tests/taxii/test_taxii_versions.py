"""Version identity to the nanosecond: versions that differ below a microsecond are
two versions, served with every digit (objects, versions, manifest); the same version
with other content is refused with a stable code, never accepted and dropped. Object
requests that accept only STIX 2.1 are answered as STIX 2.1."""

from __future__ import annotations

import uuid

from tests.taxii.conftest import ROOT, Taxii, indicator

STIX = "application/stix+json;version=2.1"


def test_versions_below_a_microsecond_are_kept_apart(taxii: Taxii) -> None:
    oid = f"indicator--{uuid.uuid4()}"
    one = indicator(oid, "2026-02-01T00:00:00.123456100Z", "one")
    two = indicator(oid, "2026-02-01T00:00:00.123456200Z", "two")
    for obj in (one, two):
        r = taxii.post("alpha", "publish-community-green", [obj])
        assert r.status_code == 202 and r.json()["success_count"] == 1, r.text
    inbox = taxii.collection("bravo", "inbox")
    got = taxii.all_objects("bravo", inbox, **{"match[id]": oid, "match[version]": "all"})
    assert [o["name"] for o in got] == ["one", "two"]
    last = taxii.all_objects("bravo", inbox, **{"match[id]": oid})
    assert [o["name"] for o in last] == ["two"]
    versions = taxii.get("bravo", f"/collections/{inbox}/objects/{oid}/versions/").json()
    assert versions["versions"] == [one["modified"], two["modified"]]
    man = taxii.get("bravo", f"/collections/{inbox}/manifest/",
                    **{"match[id]": oid, "match[version]": "all"}).json()
    assert [m["version"] for m in man["objects"]] == [one["modified"], two["modified"]]
    picked = taxii.all_objects("bravo", inbox, **{"match[id]": oid,
                                                  "match[version]": one["modified"]})
    assert [o["name"] for o in picked] == ["one"]


def test_the_same_version_with_other_content_is_refused(taxii: Taxii) -> None:
    oid = f"indicator--{uuid.uuid4()}"
    first = indicator(oid, "2026-02-01T00:00:00.123Z", "first")
    r = taxii.post("alpha", "publish-community-green", [first])
    assert r.json()["success_count"] == 1
    other = indicator(oid, "2026-02-01T00:00:00.123000Z", "other")  # the same instant
    fresh = indicator(f"indicator--{uuid.uuid4()}", "2026-02-01T00:00:00.123Z")
    r = taxii.post("alpha", "publish-community-green", [other, fresh, first])
    status = r.json()
    assert (status["success_count"], status["failure_count"]) == (2, 1)
    assert status["failures"][0]["id"] == oid
    assert status["failures"][0]["message"].startswith("taxii.version_conflict:")
    inbox = taxii.collection("bravo", "inbox")
    got = taxii.all_objects("bravo", inbox, **{"match[id]": oid, "match[version]": "all"})
    assert [o["name"] for o in got] == ["first"]
    # within one POST, too
    twin = f"indicator--{uuid.uuid4()}"
    at = "2026-02-02T00:00:00.000Z"
    r = taxii.post("alpha", "publish-community-green",
                   [indicator(twin, at, "a"), indicator(twin, at, "b")])
    assert (r.json()["success_count"], r.json()["failure_count"]) == (1, 1)


def test_object_requests_answer_in_the_stix_media_type_asked_for(taxii: Taxii) -> None:
    oid = f"indicator--{uuid.uuid4()}"
    taxii.post("alpha", "publish-community-green", [indicator(oid, "2026-02-01T00:00:00.000Z")])
    inbox = taxii.collection("bravo", "inbox")
    h = taxii.h("bravo", Accept=STIX)
    for path in (f"/collections/{inbox}/objects/", f"/collections/{inbox}/objects/{oid}/"):
        r = taxii.client.get(ROOT + path, headers=h)
        assert r.status_code == 200 and r.headers["content-type"] == STIX
        assert [o["id"] for o in r.json()["objects"]] == [oid]
        r = taxii.get("bravo", path)  # TAXII asked: TAXII answered
        assert r.headers["content-type"] == "application/taxii+json;version=2.1"
    # not an object endpoint: STIX is not acceptable there
    r = taxii.client.get(f"{ROOT}/collections/{inbox}/manifest/", headers=h)
    assert r.status_code == 406
