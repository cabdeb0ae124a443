"""The interoperability routes (``vigil.web.interop``) over a real app: free text scanned
for IOCs and, with an audience and a TLP, published as one share; a MISP event imported
and read back as a MISP event and from the member's MISP feed, and nothing of it for a
member it was not shared with."""

from __future__ import annotations

from pathlib import Path

from tests.web.conftest import Api

MISP_EVENT = Path(__file__).resolve().parents[1] / "data" / "misp" / "existing_event.json"
TEXT = "C2 at 45.77.12.34 and hxxp://evil[.]example/x\nnothing on this line\n"


def test_text_is_scanned_and_published(api: Api) -> None:
    h = {**api.h("alpha"), "Content-Type": "text/plain"}
    r = api.client.post("/api/v1/import/text", content=TEXT.encode(), headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["found"] >= 2 and "share" not in r.json()
    r = api.client.post(
        "/api/v1/import/text", params={"to": "member:bravo"}, content=TEXT.encode(), headers=h
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "input.tlp")
    r = api.client.post(
        "/api/v1/import/text",
        params={"to": "member:bravo", "tlp": "amber"},
        content=b"no indicator here",
        headers=h,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (400, "input.ioc")
    r = api.client.post("/api/v1/import/text", content=b"\xff\xfe", headers=h)
    assert (r.status_code, r.json()["error"]["code"]) == (400, "input.encoding")
    r = api.client.post(
        "/api/v1/import/text",
        params={"to": "member:bravo", "tlp": "amber"},
        content=TEXT.encode(),
        headers=h,
    )
    assert r.status_code == 200, r.text
    sid = r.json()["share"]["id"]
    assert r.json()["share"]["recipients"] == [api.node.members["bravo"].id]
    assert api.client.get(f"/api/v1/shares/{sid}", headers=api.h("bravo")).status_code == 200
    assert api.client.get(f"/api/v1/shares/{sid}", headers=api.h("charlie")).status_code == 404


def test_a_misp_event_in_and_out(api: Api) -> None:
    raw = MISP_EVENT.read_bytes()
    h = api.h("alpha")
    report = api.client.post("/api/v1/import/misp", content=raw, headers=h)
    assert report.status_code == 200, report.text
    assert len(report.json()["events"]) == 1  # a report only: nothing published
    assert api.client.get("/api/v1/export/misp", headers=api.h("bravo")).json()["events"] == []
    r = api.client.post(
        "/api/v1/import/misp", params={"to": "member:bravo", "tlp": "amber"}, content=raw, headers=h
    )
    assert r.status_code == 200, r.text
    out = api.client.get("/api/v1/export/misp", headers=api.h("bravo"))
    assert out.status_code == 200 and len(out.json()["events"]) == 1
    assert api.client.get("/api/v1/export/misp", headers=api.h("charlie")).json()["events"] == []
    manifest = api.client.get("/api/v1/misp-feed/manifest.json", headers=api.h("bravo"))
    assert manifest.status_code == 200 and len(manifest.json()) == 1
    name = next(iter(manifest.json()))
    ev = api.client.get(f"/api/v1/misp-feed/{name}.json", headers=api.h("bravo"))
    assert ev.status_code == 200 and "Event" in ev.json()
    missing = api.client.get(f"/api/v1/misp-feed/{name}.json", headers=api.h("charlie"))
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "misp.event_not_found")
    csv = api.client.get("/api/v1/misp-feed/hashes.csv", headers=api.h("bravo"))
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
