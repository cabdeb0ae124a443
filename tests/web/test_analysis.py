"""The analysis REST endpoints (``vigil.web.analysis``) over a real app (in-process ASGI):
correlations and search for the members that may read the shares, warninglists, cold reads
off the event loop, notices pushed on their stream, bounded regex searches."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange

from vigil import testing
from vigil.analysis.correlate import Correlator, correlator
from vigil.bus.local import LocalBus
from vigil.node.exchange import Exchange
from vigil.testing.stix import bundle, indicator, ioc_bundle
from vigil.web import analysis, create_app


class Api:
    def __init__(self, node: testing.TestNode, client: TestClient, ex: Exchange) -> None:
        self.node = node
        self.client = client
        self.ex = ex

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.node.members[name].token}"}

    def publish(self, who: str, body: bytes, **params: str) -> str:
        r = self.client.post(
            "/api/v1/shares", params={"tlp": "green", **params}, content=body, headers=self.h(who)
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    node, ex = four_member_exchange(tmp_path / "node")
    app = create_app(node.settings, exchange=ex, bus=LocalBus())
    with TestClient(app) as client:
        yield Api(node, client, ex)
    ex.store.close()


def test_correlations_and_search(api: Api) -> None:
    a = api.publish("alpha", ioc_bundle("45.77.9.0/24"))
    b = api.publish("bravo", ioc_bundle("45.77.9.9"))
    r = api.client.get("/api/v1/correlations", headers=api.h("bravo"))
    assert r.status_code == 200
    doc = r.json()
    assert [n["match"]["share"] for n in doc["notices"]] == [a]
    nxt = doc["next"]
    r = api.client.get("/api/v1/correlations", params={"after": nxt}, headers=api.h("bravo"))
    assert r.json() == {"notices": [], "next": nxt}
    r = api.client.get("/api/v1/search", params={"q": "45.77.9.9"}, headers=api.h("charlie"))
    assert r.status_code == 200
    assert {x["share"] for x in r.json()["results"]} == {a, b}
    bad = api.client.get("/api/v1/search", params={"q": "not one"}, headers=api.h("charlie"))
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "input.observable"
    assert api.client.get("/api/v1/search", params={"q": "1.1.1.1"}).status_code == 401
    for params, pointer in (
        ({}, "/q"),
        ({"q": "1.1.1.1", "limit": "0"}, "/limit"),
        ({"q": "1.1.1.1", "limit": "x"}, "/limit"),
    ):
        r = api.client.get("/api/v1/search", params=params, headers=api.h("charlie"))
        assert r.status_code == 400 and r.json()["error"]["pointer"] == pointer
    one = api.client.get(
        "/api/v1/search", params={"q": "45.77.9.9", "limit": "1"}, headers=api.h("charlie")
    ).json()
    assert one["count"] == 2 and len(one["results"]) == 1


def test_warninglists_api(api: Api) -> None:
    r = api.client.get("/api/v1/warninglists", headers=api.h("alpha"))
    assert r.status_code == 200
    assert "List of RFC 1918 CIDR blocks" in {w["name"] for w in r.json()["shipped"]}
    assert r.json()["own"] == []
    body = json.dumps({"name": "lab", "type": "cidr", "list": ["45.77.0.0/16"]}).encode()
    r = api.client.post("/api/v1/warninglists", content=body, headers=api.h("alpha"))
    assert r.status_code == 201
    assert r.json()["entries"] == 1
    own = {
        n: [
            w["name"]
            for w in api.client.get("/api/v1/warninglists", headers=api.h(n)).json()["own"]
        ]
        for n in ("alpha", "bravo")
    }
    assert own == {"alpha": ["lab"], "bravo": []}  # a member's own lists are its own
    r = api.client.get("/api/v1/search", params={"q": "45.77.1.1"}, headers=api.h("alpha"))
    assert r.json()["warninglists"] == ["lab"]
    bad = api.client.post(
        "/api/v1/warninglists",
        content=b'{"name": "x", "type": "nope", "list": []}',
        headers=api.h("alpha"),
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "warninglist.invalid"
    assert api.client.delete("/api/v1/warninglists/lab", headers=api.h("bravo")).status_code == 404
    assert api.client.delete("/api/v1/warninglists/lab", headers=api.h("alpha")).status_code == 204
    r = api.client.get("/api/v1/warninglists", headers=api.h("alpha"))
    assert r.json()["own"] == []


def test_cold_correlation_reads_run_off_the_event_loop(api: Api) -> None:
    """A read that must first pass shares (or load the index) runs in a worker thread;
    once the index is warm, the same read is answered inline (SQLite)."""
    import threading

    from vigil.analysis.correlate import Correlator

    seen: list[str] = []
    real = Correlator.search

    def search(self: Correlator, member: str, text: str, limit: int = 100) -> object:
        seen.append(threading.current_thread().name)
        return real(self, member, text, limit)

    api.publish("alpha", ioc_bundle("45.77.10.1"))
    # the correlation thread, woken by that publish, passes it and then waits for a wake:
    # wait for that, so that its pass cannot also take the next share and warm the index
    c = correlator(api.ex)
    deadline = time.monotonic() + 120
    while not c.warm():
        assert time.monotonic() < deadline, "the correlation thread never passed the share"
        time.sleep(0.02)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Correlator, "search", search)
        mp.setattr(Correlator, "_wake_thread", lambda self: None)  # the read does the pass
        api.publish("bravo", ioc_bundle("45.77.10.1"))  # not warm: a pass is pending
        r = api.client.get("/api/v1/search", params={"q": "45.77.10.1"}, headers=api.h("charlie"))
        assert r.status_code == 200 and r.json()["count"] == 2
        r = api.client.get(
            "/api/v1/search", params={"q": "45.77.10.1"}, headers=api.h("charlie")
        )  # warm now: inline
        assert r.status_code == 200 and r.json()["count"] == 2
    assert len(seen) == 2
    assert "worker" in seen[0].lower() and "worker" not in seen[1].lower(), seen


def test_notices_are_pushed_on_their_stream(tmp_path: Path) -> None:
    """A real server: bravo's notice stream carries a correlation as soon as the pass
    finds it, the same notice `GET /correlations` returns; a reconnect resumes."""
    import time

    import httpx

    node, ex = four_member_exchange(tmp_path / "node")
    ex.store.close()
    h = {name: {"Authorization": f"Bearer {m.token}"} for name, m in node.members.items()}
    with (
        testing.ServerProcess(node.data) as srv,
        httpx.Client(base_url=srv.url, timeout=10) as http,
    ):

        def publish(who: str, body: bytes) -> str:
            r = http.post("/api/v1/shares", params={"tlp": "green"}, content=body, headers=h[who])
            assert r.status_code == 201, r.text
            return str(r.json()["id"])

        def event(it: Iterator[str]) -> list[str]:
            got = []
            for line in it:
                got.append(line)
                if line.startswith("data:"):
                    return got[-3:]
            raise AssertionError(got)

        a = publish("alpha", ioc_bundle("45.77.11.0/24"))
        b = publish("bravo", ioc_bundle("45.77.11.5"))
        with httpx.stream(
            "GET", f"{srv.url}/api/v1/correlations/stream", timeout=10, headers=h["bravo"]
        ) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            it = r.iter_lines()
            first = event(it)  # from the store: bravo's share matches alpha's
            time.sleep(0.5)  # the stream now waits for its doorbell (keep-alive: 15 s)
            c = publish("charlie", ioc_bundle("45.77.11.5"))  # bravo's share is matched
            second = event(it)  # pushed, well before the next keep-alive
        polled = http.get("/api/v1/correlations", headers=h["bravo"]).json()["notices"]
        assert [(n["share"], n["match"]["share"]) for n in polled] == [(b, a), (b, c)]
        for lines, notice in ((first, polled[0]), (second, polled[1])):
            assert lines == [
                f"id: {notice['seq']}",
                "event: correlation",
                f"data: {json.dumps(notice, separators=(',', ':'))}",
            ]
        # a reconnect after the first id gets the second at once
        with httpx.stream(
            "GET",
            f"{srv.url}/api/v1/correlations/stream",
            timeout=10,
            headers={**h["bravo"], "Last-Event-ID": str(polled[0]["seq"])},
        ) as r:
            assert event(r.iter_lines()) == second
        r = http.get("/api/v1/correlations/stream", headers={**h["bravo"], "Last-Event-ID": "x"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "input.bad_number"
        # the SDK follows the same stream
        from vigil.client import Client

        async def two(cl: Client) -> list[dict[str, object]]:
            stream = cl.notices_stream(0)
            got = [await anext(stream), await anext(stream)]
            await stream.aclose()
            return got

        with Client(srv.url, node.members["bravo"].token) as cl:
            assert asyncio.run(asyncio.wait_for(two(cl), 10)) == polled
        # and so does `vigil correlations --follow`, a JSON line per notice
        import subprocess
        import sys
        from concurrent.futures import ThreadPoolExecutor

        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vigil.cli",
                "--data",
                str(tmp_path / "cli"),
                "correlations",
                "--follow",
                "--node",
                srv.url,
                "--token",
                node.members["bravo"].token,
            ],
            stdout=subprocess.PIPE,
        )
        out = proc.stdout
        assert out is not None
        try:
            with ThreadPoolExecutor(1) as pool:  # (kill, not hang, if no line comes)
                first = pool.submit(lambda: [out.readline(), out.readline()])
                try:
                    lines = first.result(timeout=20)
                finally:
                    proc.kill()
        finally:
            proc.wait()
            out.close()
        assert [json.loads(line) for line in lines] == polled


def test_regex_warninglist_search_is_bounded(api: Api) -> None:
    body = json.dumps(
        {"name": "evil", "type": "regex", "list": ["^(a+)+$"], "matching_attributes": ["mutex"]}
    ).encode()
    r = api.client.post("/api/v1/warninglists", content=body, headers=api.h("alpha"))
    assert r.status_code == 201, r.text
    q = "mutex:" + "a" * 1000 + "!"  # (observable values are bounded to 1 KiB)
    got: list[int] = []
    worker = threading.Thread(
        target=lambda: got.append(
            api.client.get("/api/v1/search", params={"q": q}, headers=api.h("alpha")).status_code
        ),
        daemon=True,
    )
    worker.start()
    worker.join(30)  # a backtracking engine would not finish this in a lifetime
    assert got == [200]
    r = api.client.get("/api/v1/search", params={"q": "mutex:aaaa"}, headers=api.h("alpha"))
    assert r.status_code == 200 and r.json()["warninglists"] == ["evil"]
    long = api.client.get(
        "/api/v1/search", params={"q": "mutex:" + "a" * 4096}, headers=api.h("alpha")
    )
    assert long.status_code == 400 and long.json()["error"]["code"] == "input.query"
    for entry in ("(a)\\1", "(?=x)y"):
        bad = json.dumps({"name": "bad", "type": "regex", "list": [entry]}).encode()
        r = api.client.post("/api/v1/warninglists", content=bad, headers=api.h("alpha"))
        assert r.status_code == 400 and r.json()["error"]["code"] == "warninglist.bad_regex"
    names = [
        w["name"]
        for w in api.client.get("/api/v1/warninglists", headers=api.h("alpha")).json()["own"]
    ]
    assert names == ["evil"]  # nothing stored


def publish_as(api: Api, who: str, body: bytes) -> str:
    r = api.client.post("/api/v1/shares", params={"tlp": "green"}, content=body,
                        headers=api.h(who))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_url_search_is_a_short_read_and_a_network_search_runs_in_a_thread(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "http://203.0.113.7/path/to/payload.exe"
    share = publish_as(api, "bravo", bundle(indicator(pattern=f"[url:value = '{url}']"),
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
    c = correlator(api.ex)
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
        publish_as(api, who, bundle(*(indicator(v) for v in values)))
    publish_as(api, "bravo", bundle(*(indicator(v) for v in values)))
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
