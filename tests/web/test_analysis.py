"""The search route: which searches run inline as a short read and which in a thread
(``search_for``), with the same answers either way."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.web.conftest import Api

from vigil.analysis.correlate import Correlator, correlator
from vigil.testing.stix import bundle, indicator


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
