"""Sightings over the REST API and the SDK, on both stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.analysis.nodes import Api, bundle, feodo_ips, serve, store_url

from vigil.storage.base import Sql


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with serve(tmp_path / "node", store_url(request)) as a:
        yield a


def sightings_rows(api: Api) -> int:
    def count(sql: Sql) -> int:
        return int(sql.execute("SELECT COUNT(*) FROM sightings").fetchone()[0])
    return api.exchange.store.read(count)


def sight(api: Api, who: str, share: str, **body: Any) -> Any:
    return api.client.post(f"/api/v1/shares/{share}/sightings", json=body, headers=api.h(who))


def test_counts_go_to_the_originator_and_names_only_where_allowed(api: Api) -> None:
    body, (ind1, ind2) = bundle(*feodo_ips(2))
    sid = api.publish("alpha", body, tlp="amber", to="group1")
    r = sight(api, "bravo", sid, indicator=ind1, verdict="sighted", count=3,
              first_seen="2026-11-28T10:00:00Z", last_seen="2026-11-29T10:00:00+01:00",
              disclose=True)
    assert r.status_code == 201, r.text
    mine = r.json()
    assert mine["type"] == "sighting" and mine["sighting_of_ref"] == ind1
    assert mine["count"] == 3 and mine["x_vigil_verdict"] == "sighted"
    assert mine["first_seen"] == "2026-11-28T10:00:00.000Z"
    assert mine["last_seen"] == "2026-11-29T09:00:00.000Z"
    assert mine["where_sighted_refs"] == [api.id("bravo")]
    assert sight(api, "delta", sid, indicator=ind1, verdict="sighted").status_code == 201
    assert sight(api, "delta", sid, indicator=ind2, verdict="false-positive",
                 count=1).status_code == 201
    assert sight(api, "bravo", sid, indicator=ind2, verdict="expired",
                 disclose=True).status_code == 201

    doc = api.client.get(f"/api/v1/shares/{sid}/sightings", headers=api.h("alpha")).json()
    assert doc["counts"] == {
        ind1: {"sighted": {"reports": 2, "count": 4}},
        ind2: {"false-positive": {"reports": 1, "count": 1},
               "expired": {"reports": 1, "count": 1}},
    }
    # delta reported anonymously: counted, never named to the originator
    shown = doc["sightings"]
    assert {s["created_by_ref"] for s in shown} == {api.id("bravo")}
    assert len(shown) == 2
    assert api.id("delta") not in str(doc)

    # another reader sees only its own sightings, and no counts
    d = api.client.get(f"/api/v1/shares/{sid}/sightings", headers=api.h("delta")).json()
    assert d["counts"] is None
    assert {s["x_vigil_verdict"] for s in d["sightings"]} == {"sighted", "false-positive"}
    assert all(s["created_by_ref"] == api.id("delta") for s in d["sightings"])
    e = api.client.get(f"/api/v1/shares/{sid}/sightings", headers=api.h("echo")).json()
    assert e == {"share_id": sid, "counts": None, "sightings": []}


def test_a_share_the_member_may_not_read_answers_like_a_missing_one(api: Api) -> None:
    body, (ind,) = bundle(feodo_ips(1)[0])
    sid = api.publish("alpha", body, tlp="amber", to="a-b")
    before = sightings_rows(api)
    hidden = sight(api, "charlie", sid, indicator=ind, verdict="sighted")
    missing = sight(api, "charlie", f"share--{uuid.uuid4()}", indicator=ind, verdict="sighted")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error"]["code"] == missing.json()["error"]["code"] == \
        "share.not_found"
    assert hidden.json()["error"]["message"].replace(sid, "X") == \
        missing.json()["error"]["message"].split("'")[0] + "'X'"
    listed = api.client.get(f"/api/v1/shares/{sid}/sightings", headers=api.h("charlie"))
    assert listed.status_code == 404
    assert sightings_rows(api) == before == 0


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"verdict": "sighted"}, "input.missing_field", "/indicator"),
    ({"indicator": "IND", "verdict": "seen"}, "input.sighting_verdict", "/verdict"),
    ({"indicator": "malware--1", "verdict": "sighted"}, "input.indicator_id", "/indicator"),
    ({"indicator": "IND", "verdict": "sighted", "count": -1}, "input.sighting_count", "/count"),
    ({"indicator": "IND", "verdict": "sighted", "count": 10**9}, "input.sighting_count",
     "/count"),
    ({"indicator": "IND", "verdict": "sighted", "count": True}, "input.sighting_count",
     "/count"),
    ({"indicator": "IND", "verdict": "sighted", "first_seen": "yesterday"},
     "input.sighting_time", "/first_seen"),
    ({"indicator": "IND", "verdict": "sighted", "first_seen": "2026-11-29T10:00:00"},
     "input.sighting_time", "/first_seen"),
    ({"indicator": "IND", "verdict": "sighted", "first_seen": "2026-11-29T10:00:00Z",
      "last_seen": "2026-11-28T10:00:00Z"}, "input.sighting_time", "/last_seen"),
    ({"indicator": "IND", "verdict": "sighted", "disclose": "yes"}, "input.sighting_disclose",
     "/disclose"),
    ({"indicator": "IND", "verdict": "sighted", "reporter": "someone"},
     "input.unknown_field", "/reporter"),
]


def test_bad_input_has_a_stable_code_and_stores_nothing(api: Api) -> None:
    body, (ind,) = bundle(feodo_ips(1)[0])
    sid = api.publish("alpha", body, tlp="amber", to="group1")
    for doc, code, pointer in BAD:
        doc = {k: (ind if v == "IND" else v) for k, v in doc.items()}
        r = sight(api, "bravo", sid, **doc)
        assert r.status_code == 400, (doc, r.text)
        assert r.json()["error"]["code"] == code, doc
        assert r.json()["error"]["pointer"] == pointer, doc
    not_json = api.client.post(f"/api/v1/shares/{sid}/sightings", content=b"[1,",
                               headers=api.h("bravo"))
    assert not_json.status_code == 400
    # an indicator the (readable) share does not hold: plain, and sealed with held keys
    other = f"indicator--{uuid.uuid4()}"
    r = sight(api, "bravo", sid, indicator=other, verdict="sighted")
    assert r.status_code == 404 and r.json()["error"]["code"] == "sighting.indicator_not_found"
    plain = api.publish("alpha", body, tlp="green")
    r = sight(api, "charlie", plain, indicator=other, verdict="sighted")
    assert r.json()["error"]["code"] == "sighting.indicator_not_found"
    assert sightings_rows(api) == 0


def test_the_sdk_reports_and_reads_sightings(api: Api) -> None:
    body, (ind,) = bundle(feodo_ips(1)[0])
    delta = api.sdk("delta")
    res = delta.publish(body, tlp="amber", to=["group1"])
    echo = api.sdk("echo")
    s = echo.sight(res["id"], ind, "false-positive", count=2)
    assert s["created_by_ref"] == api.id("echo")  # the reporter sees itself
    doc = delta.sightings(res["id"])
    assert doc["counts"] == {ind: {"false-positive": {"reports": 1, "count": 2}}}
    assert doc["sightings"] == []  # anonymous to the originator by default
