"""Bad TAXII requests: a spec error body (title, description, error_code, http_status)
with a stable code, and nothing stored."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from tests.taxii.conftest import ROOT, TAXII, Taxii, attack_objects


def stored(taxii: Taxii) -> tuple[int, int]:
    return taxii.exchange.store.read(lambda sql: (
        sql.execute("SELECT count(*) FROM shares").fetchone()[0],
        sql.execute("SELECT count(*) FROM taxii_status").fetchone()[0]))


def assert_error(r: Any, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == TAXII
    body = r.json()
    assert body["error_code"] == code
    assert body["http_status"] == str(status)
    assert body["title"] and body["description"]


@pytest.mark.parametrize(("params", "code"), [
    ({"limit": "0"}, "input.out_of_range"),
    ({"limit": "-3"}, "input.bad_number"),
    ({"limit": "ten"}, "input.bad_number"),
    ({"limit": "²"}, "input.bad_number"),
    ({"limit": str(2**63)}, "input.out_of_range"),
    ({"next": "not-a-token!"}, "taxii.bad_next"),
    ({"next": "djEuMS4x"}, "taxii.bad_next"),  # "v1.1.1": positions before schema v22
    ({"added_after": "yesterday"}, "input.bad_time"),
    ({"added_after": "2026-01-01T00:00:00"}, "input.bad_time"),
    ({"added_after": "9999-12-31T23:59:59-14:00"}, "input.out_of_range"),
    ({"match[id]": "indicator-1"}, "taxii.bad_filter"),
    ({"match[type]": "Indicator"}, "taxii.bad_filter"),
    ({"match[version]": "latest"}, "taxii.bad_filter"),
    ({"match[version]": "last,,first"}, "taxii.bad_filter"),
    ({"match[spec_version]": "two"}, "taxii.bad_filter"),
    ({"match[colour]": "red"}, "taxii.bad_filter"),
])
def test_bad_filters(taxii: Taxii, params: dict[str, str], code: str) -> None:
    inbox = taxii.collection("alpha", "inbox")
    for path in ("objects/", "manifest/"):
        assert_error(taxii.get("alpha", f"/collections/{inbox}/{path}", **params), 400, code)


def test_wrong_media_types_and_auth(taxii: Taxii) -> None:
    inbox = taxii.collection("alpha", "inbox")
    url = f"{ROOT}/collections/{inbox}/objects/"
    for accept in ("application/xml", "application/taxii+json;version=2.0", "text/html"):
        r = taxii.client.get(url, headers={**taxii.h("alpha"), "Accept": accept})
        assert_error(r, 406, "taxii.not_acceptable")
    ok = taxii.client.get(url, headers={**taxii.h("alpha"),
                                        "Accept": "application/stix+json;version=2.1"})
    assert ok.status_code == 200
    assert_error(taxii.client.get(f"{ROOT}/collections/", headers={"Accept": TAXII}), 401,
                 "auth.required")
    r = taxii.client.get(f"{ROOT}/collections/", headers={"Accept": TAXII,
                                                          "Authorization": "Bearer nope"})
    assert_error(r, 401, "auth.bad_token")
    assert r.headers["www-authenticate"].startswith("Basic")


def test_bad_posts_store_nothing(taxii: Taxii) -> None:
    before = stored(taxii)
    target = taxii.collection("alpha", "publish-community-green")
    url = f"{ROOT}/collections/{target}/objects/"
    good = json.dumps({"objects": attack_objects()[:2]})
    h = {**taxii.h("alpha"), "Content-Type": TAXII}
    assert_error(taxii.client.post(url, content=good,
                                   headers={**h, "Content-Type": "application/json"}),
                 415, "taxii.unsupported_media_type")
    assert_error(taxii.client.post(url, content=good, headers={**h, "Accept": "text/xml"}),
                 406, "taxii.not_acceptable")
    assert_error(taxii.client.post(url, content=b"{not json", headers=h), 400,
                 "input.malformed")
    assert_error(taxii.client.post(url, content=b"[]", headers=h), 400, "taxii.bad_envelope")
    assert_error(taxii.client.post(url, content=b'{"objects": []}', headers=h), 400,
                 "taxii.bad_envelope")
    one = json.dumps(attack_objects()[0])
    twice = '{"objects": [' + one[:-1] + ', "name": "again", "name": "twice"}]}'
    r = taxii.client.post(url, content=twice.encode(), headers=h)
    assert_error(r, 400, "input.duplicate_key")
    assert r.json()["details"]["pointer"].startswith("/objects/0")
    for extra in ('"more": false, ', '"next": "x", ', '"more": true, "more": false, '):
        r = taxii.client.post(url, content=("{" + extra + twice[1:]).encode(), headers=h)
        assert_error(r, 400, "input.duplicate_key")  # the same with `more` or `next`
    r = taxii.client.post(url, content=b'{"more": false, "objects": [{"x": NaN}]}', headers=h)
    assert_error(r, 400, "input.non_finite")
    inbox = taxii.collection("alpha", "inbox")
    assert_error(taxii.client.post(f"{ROOT}/collections/{inbox}/objects/", content=good,
                                   headers=h), 403, "taxii.not_writable")
    assert taxii.get("alpha", f"/collections/{target}/objects/").status_code == 200
    assert_error(taxii.client.post(f"{ROOT}/collections/{uuid.uuid4()}/objects/", content=good,
                                   headers=h), 404, "taxii.collection_not_found")
    # a RED publish collection does not exist (RED needs members named one by one)
    cols = {c["alias"] for c in taxii.get("alpha", "/collections/").json()["collections"]}
    assert not any(a.endswith("-red") for a in cols)
    assert stored(taxii) == before


def test_all_invalid_objects_publish_nothing(taxii: Taxii) -> None:
    before = stored(taxii)
    r = taxii.post("alpha", "publish-community-green", [{"type": "indicator"}, 7])
    assert r.status_code == 202
    st = r.json()
    assert (st["success_count"], st["failure_count"]) == (0, 2)
    shares, statuses = stored(taxii)
    assert shares == before[0] and statuses == before[1] + 1


def test_bad_object_id_in_path(taxii: Taxii) -> None:
    inbox = taxii.collection("alpha", "inbox")
    assert_error(taxii.get("alpha", f"/collections/{inbox}/objects/not-an-id/"), 400,
                 "taxii.bad_filter")
    assert_error(taxii.get("alpha", f"/collections/{inbox}/objects/"
                                    f"indicator--{uuid.uuid4()}/"), 404,
                 "taxii.object_not_found")


def test_unknown_paths_and_methods(taxii: Taxii) -> None:
    assert_error(taxii.client.get("/taxii2/nowhere/", headers=taxii.h("alpha")), 404,
                 "taxii.not_found")
    assert_error(taxii.client.put(f"{ROOT}/collections/", headers=taxii.h("alpha")), 405,
                 "taxii.method_not_allowed")
