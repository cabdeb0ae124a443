"""Posted documents, edited by hypothesis from valid ones, never get a server error.

For each write route that takes a JSON document (a STIX bundle to publish or preview,
TAXII objects, a warninglist, a sighting, a channel), a valid body is edited (values
replaced with hostile ones, members dropped or added, items duplicated) and posted as
a member; every answer must be below 500 and, if an error, vigil's error body (TAXII's
under /taxii2/). The unedited bodies are accepted, so the edits start from the deep end.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fuzz.strategies import CI, mutated
from tests.stix.conftest import make_bundle, make_indicator

from vigil.taxii.media import TAXII

from .conftest import Api

BUNDLE = make_bundle(3)


def _routes(api: Api) -> list[tuple[str, dict[str, Any], Any, str]]:
    """(path, query, valid body, content type) of each route, checked to accept it."""
    sid = api.client.post("/api/v1/shares", params={"tlp": "amber", "to": "a-b"},
                          content=json.dumps(BUNDLE), headers=api.h("alpha")).json()["id"]
    cols = api.client.get("/taxii2/api/collections/",
                          headers={**api.h("alpha"), "Accept": TAXII}).json()["collections"]
    cid = next(c["id"] for c in cols if c["alias"] == "publish-channel-a-b-amber")
    return [
        ("/api/v1/shares", {"tlp": "amber", "to": "a-b"}, BUNDLE, "application/stix+json"),
        ("/api/v1/preview", {}, {"tlp": "amber", "to": ["group1", "member:delta"],
                                 "purpose": "ir", "codes": ["x"], "themes": ["cyber"],
                                 "regions": ["EU"], "expires": "30d"}, "application/json"),
        (f"/taxii2/api/collections/{cid}/objects/", {},
         {"objects": [make_indicator(7), make_indicator(8)]}, TAXII),
        ("/api/v1/warninglists", {}, {"name": "lab", "type": "cidr", "list": ["45.77.0.0/16"]},
         "application/json"),
        (f"/api/v1/shares/{sid}/sightings", {},
         {"indicator": BUNDLE["objects"][0]["id"], "verdict": "sighted"}, "application/json"),
        ("/api/v1/channels", {}, {"name": "c-group", "kind": "group", "members": ["delta"]},
         "application/json"),
    ]


def _post(api: Api, path: str, query: dict[str, Any], body: Any, ctype: str) -> Any:
    headers = {**api.h("bravo" if "sightings" in path else "alpha"), "Content-Type": ctype}
    if path.startswith("/taxii2"):
        headers["Accept"] = TAXII
    return api.client.post(path, params=query, content=json.dumps(body), headers=headers)


@settings(max_examples=int(os.environ.get("VIGIL_FUZZ_EXAMPLES", "40")), deadline=None,
          derandomize=CI, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_edited_documents_never_get_a_server_error(api: Api, data: st.DataObject) -> None:
    routes = getattr(api, "_fuzz_routes", None)
    if routes is None:
        routes = api._fuzz_routes = _routes(api)  # type: ignore[attr-defined]
        for path, query, body, ctype in routes:  # the valid bodies are accepted
            r = _post(api, path, query, body, ctype)
            assert r.status_code < 300, (path, r.text)
    path, query, body, ctype = data.draw(st.sampled_from(routes))
    edited = data.draw(mutated(body, max_edits=4))
    r = _post(api, path, query, edited, ctype)
    assert r.status_code < 500, (path, edited, r.text)
    if r.status_code >= 400:
        doc = r.json()
        if path.startswith("/taxii2"):
            assert doc["http_status"] == str(r.status_code) and doc["title"], doc
        else:
            assert isinstance(doc["error"]["code"], str), doc
