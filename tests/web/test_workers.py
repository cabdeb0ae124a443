"""The app's worker threads are waited for before its store closes: a feed pull still
running in its thread when the app shuts down finishes in an open store."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from vigil.bus.local import LocalBus
from vigil.cli.main import cli
from vigil.feeds import registry
from vigil.testing import make_node
from vigil.web.app import create_app
from vigil.web.workers import Workers

UUID = "5b646415-7b48-40d5-86b4-c0070acd0835"
HOLD = 5.0  # seconds the slow feed holds its manifest unless told to answer


class SlowFeed:
    """A MISP feed served here whose manifest is answered only when ``release`` is set
    (or after ``HOLD`` seconds): a pull waits inside its thread meanwhile."""

    def __init__(self) -> None:
        # one entry, whose document is not a MISP event: the pull records it as a reject,
        # in the store, once the manifest came (a real event would be converted first)
        self.files = {"/manifest.json": json.dumps({UUID: {"timestamp": "1533306089",
                                                           "info": "held"}}).encode(),
                      f"/{UUID}.json": json.dumps({"Event": {"uuid": UUID}}).encode()}
        self.asked = threading.Event()
        self.release = threading.Event()
        self.answered = threading.Event()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = feed.files.get(self.path)
                if self.path == "/manifest.json":
                    feed.asked.set()
                    feed.release.wait(HOLD)
                    feed.answered.set()
                self.send_response(200 if body is not None else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def slow_feed() -> Iterator[SlowFeed]:
    feed = SlowFeed()
    feed.thread.start()
    try:
        yield feed
    finally:
        feed.release.set()
        feed.server.shutdown()
        feed.server.server_close()


def test_shutdown_waits_for_a_feed_pull_in_its_thread(tmp_path: Path,
                                                      slow_feed: SlowFeed) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    res = CliRunner().invoke(cli, [
        "--data", str(node.data), "feed", "add", slow_feed.url, "--format", "misp",
        "--as", "alpha", "--tlp", "green", "--every", "1h", "--name", "slow"],
        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    at_close: list[bool] = []

    def closing() -> None:  # the store's first step in closing
        at_close.append(slow_feed.answered.is_set())
        slow_feed.release.set()

    with TestClient(create_app(node.settings, bus=LocalBus())) as c:
        c.app.state.vigil.exchange.store.on_close.append(closing)  # type: ignore[attr-defined]
        assert slow_feed.asked.wait(60)  # the scheduler's pull waits in its thread
    # the app shut down: its store closed only after the pull had its answer and ended
    assert at_close == [True]
    ex = node.exchange()
    try:
        feed = registry.get_feed(ex.store, "slow")
    finally:
        ex.store.close()
    # the pull ended in the open store: its entry's reject and the lease given back
    assert feed.last_error is None and feed.lease_owner is None and feed.last_pull
    assert feed.fetched == 1 and feed.rejected == 1


async def test_settle_waits_for_the_calls_under_way() -> None:
    await asyncio.to_thread(int)  # the loop has a pool of its own already
    workers = Workers.install()
    go, ended = threading.Event(), threading.Event()

    def call() -> None:
        go.wait(60)
        ended.set()

    running = asyncio.ensure_future(asyncio.to_thread(call))
    await asyncio.sleep(0)  # submitted
    running.cancel()  # a cancelled await leaves its thread running
    assert workers.busy() == 1
    asyncio.get_running_loop().call_later(0.2, go.set)
    assert await workers.settle(60) is True
    assert ended.is_set() and workers.busy() == 0
    # the loop's pool from before is back (this one is shut down): calls still run
    assert await asyncio.to_thread(int, "7") == 7


async def test_settle_gives_up_at_its_bound() -> None:
    workers = Workers.install()
    go = threading.Event()
    running = asyncio.ensure_future(asyncio.to_thread(go.wait, 60))
    await asyncio.sleep(0)
    assert await workers.settle(0.1) is False
    assert workers.busy() == 1
    go.set()
    assert await running is True
    assert workers.busy() == 0
