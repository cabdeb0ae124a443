"""Every number, cursor, limit and time a request carries is read by vigil.params: out of
range or non-ASCII digits answer 400 with its codes on every surface, never a 500 or a
stream that dies after its 200."""

from __future__ import annotations

from tests.web.conftest import Api
from tests.web.helpers import GOOD

HUGE = str(2**63)
HUGER = str(2**64)

CURSORS = [
    ("/api/v1/inbox", "after"),
    ("/api/v1/inbox", "limit"),
    ("/api/v1/sent", "after"),
    ("/api/v1/correlations", "after"),
    ("/api/v1/blind/matches", "after"),
    ("/api/v1/log/entries", "start"),
    ("/api/v1/log/checkpoint", "size"),
    ("/api/v1/stream", "after"),
    ("/api/v1/correlations/stream", "after"),
    ("/api/v1/search", "limit"),
]


def test_query_numbers(api: Api) -> None:
    for path, name in CURSORS:
        for value, code in [(HUGE, "input.out_of_range"), ("²", "input.bad_number")]:
            q = {name: value} | ({"q": "ipv4:192.0.2.1"} if path.endswith("search") else {})
            r = api.client.get(path, params=q, headers=api.h("alpha"))
            assert r.status_code == 400, (path, name, value, r.text)
            assert r.json()["error"]["code"] == code
            assert r.json()["error"]["pointer"] == f"/{name}"
    for q, name in [({"index": HUGE, "size": "1"}, "index"), ({"index": "0", "size": HUGE},
                                                              "size"),
                    ({"from": "1", "to": HUGE}, "to")]:
        path = "/api/v1/log/" + ("consistency" if "from" in q else "inclusion")
        r = api.client.get(path, params=q, headers=api.h("alpha"))
        assert r.status_code == 400 and r.json()["error"]["code"] == "input.out_of_range"
        assert r.json()["error"]["pointer"] == f"/{name}"


def test_last_event_id(api: Api) -> None:
    for path in ["/api/v1/stream", "/api/v1/correlations/stream"]:
        for value, code in [(HUGER.encode(), "input.out_of_range"),
                            ("²".encode("latin-1"), "input.bad_number"),
                            (b"x", "input.bad_number")]:
            headers: dict[str, str | bytes] = {**api.h("alpha"), "Last-Event-ID": value}
            r = api.client.get(path, headers=headers)
            assert r.status_code == 400, (path, value, r.text)
            err = r.json()["error"]
            assert err["code"] == code and err["pointer"] == "/Last-Event-ID"


def test_expiry_out_of_range(api: Api) -> None:
    for value in ["99999999999d", "9999-12-31T23:59:59-14:00", "0000-06-01T00:00:00Z"]:
        r = api.client.post("/api/v1/preview", json={"tlp": "amber", "to": ["a-b"],
                                                     "expires": value}, headers=api.h("alpha"))
        assert r.status_code == 400, (value, r.text)
        assert r.json()["error"]["code"] == "input.out_of_range"
        r = api.client.post("/api/v1/shares", params={"tlp": "amber", "to": "a-b",
                                                      "expires": value},
                            content=GOOD.encode(), headers=api.h("alpha"))
        assert r.status_code == 400, (value, r.text)
        assert r.json()["error"]["code"] == "input.out_of_range"
    assert api.exchange.store.share_count() == 0
