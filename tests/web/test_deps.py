"""Heavy work of one member runs in a thread, one request at a time per member: its
requests queue behind each other, never in front of another member's."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import four_member_exchange
from tests.web.conftest import Api

from vigil.analysis.correlate import Correlator, correlator
from vigil.bus.local import LocalBus
from vigil.web.deps import State


def test_one_members_heavy_requests_queue_behind_each_other(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    st = State(node.settings, ex, LocalBus())
    gate = threading.Event()
    order: list[str] = []

    def work(tag: str, wait: bool = False) -> str:
        if wait:
            gate.wait(30)
        order.append(tag)
        return tag

    async def scenario() -> None:
        a1 = asyncio.ensure_future(st.heavy("A", work, "a1", True))
        await asyncio.sleep(0.05)
        a2 = asyncio.ensure_future(st.heavy("A", work, "a2"))
        assert await asyncio.wait_for(st.heavy("B", work, "b1"), 30) == "b1"
        await asyncio.sleep(0.05)
        assert not a2.done()  # behind a1, the same member's
        gate.set()
        assert await asyncio.wait_for(asyncio.gather(a1, a2), 30) == ["a1", "a2"]

    try:
        asyncio.run(scenario())
    finally:
        gate.set()
        ex.store.close()
    assert order == ["b1", "a1", "a2"]
    assert st._heavy == {}  # no slot is kept for a member with nothing running


def test_a_search_with_regex_lists_runs_off_the_event_loop(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    where: list[bool] = []
    real = Correlator.search

    def search(self: Correlator, *a: object, **kw: object) -> object:
        try:
            asyncio.get_running_loop()
            where.append(True)
        except RuntimeError:
            where.append(False)
        return real(self, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Correlator, "search", search)
    c = correlator(api.exchange)
    for _ in range(1000):  # once the index is warm a search is short, and still not inline
        if c.warm():
            break
        time.sleep(0.01)
    r = api.client.get("/api/v1/search", params={"q": "1.2.3.4"}, headers=api.h("alpha"))
    assert r.status_code == 200 and where == [True]  # a short lookup: inline
    wl = json.dumps({"name": "rx", "type": "regex", "list": ["^(a+)+$"]}).encode()
    assert api.client.post("/api/v1/warninglists", content=wl,
                           headers=api.h("alpha")).status_code == 201
    for q in ("1.2.3.4", "10.0.0.0/8"):
        r = api.client.get("/api/v1/search", params={"q": q}, headers=api.h("alpha"))
        assert r.status_code == 200
    r = api.client.get("/api/v1/search", params={"q": "10.0.0.0/8"}, headers=api.h("bravo"))
    assert r.status_code == 200 and where == [True, False, False, False]


def test_a_large_body_is_put_together_off_the_event_loop(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.web import deps

    joined: list[int] = []
    real = deps.run_in_threadpool

    async def threadpool(fn: Any, *a: Any, **kw: Any) -> Any:
        if fn == b"".join:
            joined.append(sum(len(c) for c in a[0]))
        return await real(fn, *a, **kw)

    monkeypatch.setattr(deps, "run_in_threadpool", threadpool)
    monkeypatch.setattr(deps, "JOIN_APART", 1000)
    text = b"".join(b"host%d.example.com\n" % i for i in range(200))
    r = api.client.post("/api/v1/import/text", content=text, headers=api.h("alpha"))
    assert r.status_code == 200 and r.json()["found"] == 200
    assert joined == [len(text)]
    r = api.client.post("/api/v1/import/text", content=b"a.example.com\n",
                        headers=api.h("alpha"))
    assert r.status_code == 200 and joined == [len(text)]  # a small body: at once
    assert json.loads(r.text)["found"] == 1
