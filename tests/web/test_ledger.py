"""The sightings, ledger and blind-matching routes (``vigil.web.ledger``) over a real app:
a sighting's body checked field by field with stable codes before anything is stored, a
sighting reported and shown to its reporter, the ledger's counts without a share id, a
channel key's status for members only, and blind-match notices paged."""

from __future__ import annotations

from tests.web.conftest import Api

from vigil.testing.stix import bundle, indicator


def share(api: Api) -> tuple[str, str]:
    ind = indicator("45.7.7.7")
    r = api.client.post(
        "/api/v1/shares", params={"tlp": "green"}, content=bundle(ind), headers=api.h("alpha")
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"]), str(ind["id"])


def test_sightings(api: Api) -> None:
    sid, ind = share(api)
    url = f"/api/v1/shares/{sid}/sightings"
    for body, code, pointer in (
        ([], "input.body", ""),
        ({"indicator": ind}, "input.missing_field", "/verdict"),
        ({"indicator": ind, "verdict": "sighted", "where": "x"}, "input.unknown_field", "/where"),
        (
            {"indicator": ind, "verdict": "sighted", "disclose": "yes"},
            "input.sighting_disclose",
            "/disclose",
        ),
        (
            {"indicator": ind, "verdict": "sighted", "first_seen": 5},
            "input.sighting_time",
            "/first_seen",
        ),
    ):
        r = api.client.post(url, json=body, headers=api.h("bravo"))
        assert r.status_code == 400, body
        assert (r.json()["error"]["code"], r.json()["error"].get("pointer", "")) == (code, pointer)
    assert api.client.get(url, headers=api.h("bravo")).json()["sightings"] == []
    r = api.client.post(
        url, json={"indicator": ind, "verdict": "sighted", "count": 3}, headers=api.h("bravo")
    )
    assert r.status_code == 201, r.text
    assert r.json()["type"] == "sighting" and r.json()["sighting_of_ref"] == ind
    mine = api.client.get(url, headers=api.h("bravo")).json()
    assert len(mine["sightings"]) == 1 and mine["counts"] is None
    origin = api.client.get(url, headers=api.h("alpha")).json()
    assert origin["counts"] and origin["sightings"] == []  # bravo did not disclose itself
    r = api.client.post(
        "/api/v1/shares/share--00000000-0000-4000-8000-000000000000/sightings",
        json={"indicator": ind, "verdict": "sighted"},
        headers=api.h("bravo"),
    )
    assert r.status_code == 404


def test_ledger_channel_keys_and_blind_matches(api: Api) -> None:
    sid, _ = share(api)
    ledger = api.client.get("/api/v1/ledger", headers=api.h("bravo"))
    assert ledger.status_code == 200 and sid not in ledger.text
    r = api.client.get("/api/v1/channels/nope/key", headers=api.h("alpha"))
    assert r.status_code == 404
    r = api.client.post("/api/v1/channels/nope/keys", json={"epoch": 1}, headers=api.h("alpha"))
    assert (r.status_code, r.json()["error"]["code"]) == (400, "input.missing_field")
    got = api.client.get("/api/v1/blind/matches", params={"limit": 5}, headers=api.h("alpha"))
    assert got.status_code == 200 and got.json()["matches"] == []
    bad = api.client.get("/api/v1/blind/matches", params={"limit": 0}, headers=api.h("alpha"))
    assert bad.status_code == 400
