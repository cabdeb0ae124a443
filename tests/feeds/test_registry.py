"""Feed rows in the store (SQLite and PostgreSQL): lease, cursor, seen versions (what
a push withholds: tests/feeds/test_push.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vigil import clock, testing
from vigil.errors import InputError
from vigil.feeds import registry
from vigil.feeds.registry import Auth, Feed


@pytest.fixture(params=["sqlite", "postgresql"])
def node(request: pytest.FixtureRequest, tmp_path: Path) -> testing.TestNode:
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    return testing.make_node(tmp_path / "node", {"alpha": True, "bravo": True,
                                                 "delta": False}, store=store)


def feed(node: testing.TestNode, every: int = 60) -> Feed:
    return Feed("f1", "http://taxii.invalid/api/", str(uuid.uuid4()),
                node.members["alpha"].id, "green", (), every,
                Auth("user", "s3cret-pass"))


def test_a_lease_whose_process_is_gone_is_free_at_once(node: testing.TestNode) -> None:
    ex = node.exchange()
    try:
        st = ex.store
        registry.add_feed(st, feed(node))
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        host = socket.gethostname()
        assert registry.claim(st, "f1", owner=f"{host} {dead.pid} 1")
        assert registry.get_feed(st, "f1").lease_owner == f"{host} {dead.pid} 1"
        assert registry.due_feeds(st, datetime.now(UTC))[0] == ["f1"]
        assert registry.claim(st, "f1")  # the holder is gone: taken over at once
        assert registry.get_feed(st, "f1").lease_owner == registry.holder()
        assert not registry.claim(st, "f1")  # this process holds it: still busy
        # a live process that is not the one that took the lease (pid reused)
        assert registry.claim(st, "f1", owner=f"{host} {os.getpid()} 0", now=datetime.now(
            UTC) + timedelta(seconds=registry.LEASE_SECONDS + 1))
        assert registry.claim(st, "f1")
        # a holder on another host is never known gone: its lease runs out
        later = datetime.now(UTC) + timedelta(seconds=2 * registry.LEASE_SECONDS)
        assert registry.claim(st, "f1", owner=f"other-host {dead.pid} 1", now=later)
        assert not registry.claim(st, "f1", now=later)
        registry.release(st, "f1", error=None, counts={}, pulled_at=clock.now())
        assert registry.get_feed(st, "f1").lease_owner is None
    finally:
        ex.store.close()


def test_the_cursor_keeps_what_was_read_at_its_date(node: testing.TestNode) -> None:
    ex = node.exchange()
    try:
        st = ex.store
        registry.add_feed(st, feed(node))
        a, b, c = (("indicator--" + str(uuid.uuid4()), "v") for _ in range(3))
        registry.set_cursor(st, "f1", "2024-01-02T00:00:00.000Z", [a])
        registry.set_cursor(st, "f1", "2024-01-02T00:00:00.000000Z", [b])  # same instant
        assert registry.get_feed(st, "f1").cursor_keys == {a, b}
        registry.set_cursor(st, "f1", "2024-01-01T23:59:59.999Z", [c])  # never back
        assert registry.get_feed(st, "f1").cursor_keys == {a, b}
        registry.set_cursor(st, "f1", "2024-01-02T00:00:00.001Z", [c])  # later: replaced
        f = registry.get_feed(st, "f1")
        assert (f.cursor, f.cursor_keys) == ("2024-01-02T00:00:00.001Z", {c})
        assert f.public()["read_at_cursor"] == 1
    finally:
        ex.store.close()


def test_lease_cursor_and_seen_versions(node: testing.TestNode) -> None:
    ex = node.exchange()
    try:
        st = ex.store
        registry.add_feed(st, feed(node))
        now = datetime.now(UTC)
        assert registry.due_feeds(st, now)[0] == ["f1"]
        assert registry.claim(st, "f1", now=now)
        assert not registry.claim(st, "f1", now=now)  # one pull at a time
        assert registry.due_feeds(st, now)[0] == []
        # a lease left by a crashed pull is taken over once it runs out
        assert registry.claim(st, "f1", now=now + timedelta(seconds=registry.LEASE_SECONDS + 1))
        registry.release(st, "f1", error=None, counts={"fetched": 3, "published": 2},
                         pulled_at=clock.fmt(now))
        due, wait = registry.due_feeds(st, now + timedelta(seconds=10))
        assert due == [] and 0 < wait <= 50
        assert registry.due_feeds(st, now + timedelta(seconds=61))[0] == ["f1"]

        registry.set_cursor(st, "f1", "2024-01-02T00:00:00.000000Z")
        registry.set_cursor(st, "f1", "2024-01-01T00:00:00.000000Z")  # never back
        f = registry.get_feed(st, "f1")
        assert f.cursor == "2024-01-02T00:00:00.000000Z"
        assert (f.fetched, f.published) == (3, 2)

        keys = [(f"indicator--{uuid.uuid4()}", "2024-01-01T00:00:00.000Z") for _ in range(250)]
        st.write(lambda sql: registry.mark_seen(sql, "f1", "share--x", keys[:240]))
        assert st.read(lambda sql: registry.seen(sql, "f1", keys)) == set(keys[:240])

        shown = repr(f) + str(f.public())
        assert "s3cret-pass" not in shown and "basic (user user)" in shown
        registry.remove_feed(st, "f1")
        assert registry.list_feeds(st) == []
    finally:
        ex.store.close()


def test_every_and_collection_url() -> None:
    assert [registry.parse_every(t) for t in ("30s", "15m", "2h", "1d")] == \
        [30, 900, 7200, 86400]
    with pytest.raises(InputError):
        registry.parse_every("soon")
    assert registry.format_every(900) == "15m"
    assert registry.collection_url("http://h/api1", "c1") == "http://h/api1/collections/c1/"
    assert registry.collection_url("http://h/api1/collections/c1/", "c1") == \
        "http://h/api1/collections/c1/"
