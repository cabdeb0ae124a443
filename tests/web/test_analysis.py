"""The search route: which searches run inline as a short read and which in a thread
(``search_for``), with the same answers either way; correlation notices served before
routing answer as the route does."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from fastapi import FastAPI
from tests.web.conftest import Api

from vigil.analysis.correlate import Correlator, correlator
from vigil.testing.stix import bundle, indicator
from vigil.web import analysis


def publish(api: Api, who: str, body: bytes) -> str:
    r = api.client.post("/api/v1/shares", params={"tlp": "green"}, content=body,
                        headers=api.h(who))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_url_search_is_a_short_read_and_a_network_search_runs_in_a_thread(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://203.0.113.7/path/to/payload.exe"
    share = publish(api, "bravo", bundle(indicator(pattern=f"[url:value = '{url}']"),
                                         indicator("198.51.100.7")))
    inline: list[bool] = []
    real = Correlator.search

    def search(self: Correlator, *a: object, **kw: object) -> object:
        try:
            asyncio.get_running_loop()
            inline.append(True)
        except RuntimeError:
            inline.append(False)
        return real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Correlator, "search", search)
    c = correlator(api.exchange)
    for _ in range(1000):  # a cold index is loaded in a thread whatever the query
        if c.warm():
            break
        time.sleep(0.01)
    found = {}
    for q in (url, "198.51.100.7/32", "198.51.100.0/24", "ip:198.51.100.0/25"):
        r = api.client.get("/api/v1/search", params={"q": q}, headers=api.h("alpha"))
        assert r.status_code == 200, r.text
        found[q] = [x["share"] for x in r.json()["results"]]
    # the "/" of a URL, or of a host prefix, makes no network: one probe, on the loop
    assert inline == [True, True, False, False]
    assert found == {q: [share] for q in found}, found


def asgi_get(api: Api, call: Any, query: dict[str, str], headers: dict[str, str]
             ) -> tuple[int, Any]:
    """Status and JSON body of a GET of /api/v1/correlations through ``call`` (an ASGI
    callable), on the app's event loop."""
    path = "/api/v1/correlations"
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(),
             "query_string": urlencode(query).encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("testclient", 50000), "server": ("testserver", 80),
             "scheme": "http", "http_version": "1.1"}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    assert api.client.portal is not None
    api.client.portal.call(call, scope, receive, send)
    return int(sent[0]["status"]), orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def test_correlation_notices_served_before_routing_answer_as_the_route(api: Api) -> None:
    values = [f"45.77.9.{i}" for i in range(1, 13)]
    for who in ("alpha", "charlie"):
        publish(api, who, bundle(*(indicator(v) for v in values)))
    publish(api, "bravo", bundle(*(indicator(v) for v in values)))
    app = api.client.app
    fast = functools.partial(analysis.correlations_fast_path, app.state.vigil)  # type: ignore[attr-defined]
    routed = functools.partial(FastAPI.__call__, app)
    queries: list[dict[str, str]] = [
        {}, {"limit": "1"}, {"after": "3", "limit": "5"}, {"after": "1000"}, {"limit": "1000"},
        {"after": "-1"}, {"after": ""}, {"after": "abc", "limit": "0"}, {"limit": "1001"},
        {"limit": ""}, {"after": "²"}, {"after": str(2**63)}, {"after": "1.5"}]
    bravo = api.h("bravo")
    for headers in (bravo, api.h("alpha"), {}, {"Authorization": "Bearer nope"}):
        for q in queries:
            got = asgi_get(api, fast, q, headers)
            assert got == asgi_get(api, routed, q, headers), (q, headers)
    status, doc = asgi_get(api, fast, {"limit": "5"}, bravo)
    assert status == 200 and len(doc["notices"]) == 5  # bravo's notices, paged
    r = api.client.get("/api/v1/correlations", params={"limit": "5"}, headers=bravo)
    assert r.json() == doc
