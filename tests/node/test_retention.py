"""Retention: shares past their expiry are purged from the store and the inboxes, and
the log keeps their entries; on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from tests.node.helpers import Node, build_node, canary_bundle, db_hits, later

from vigil import clock
from vigil.model import ShareState
from vigil.node import accountability as acc
from vigil.testing.node import scan
from vigil.testing.stix import canary_bundle as bundle_with


@pytest.fixture(params=["sqlite", "postgresql"])
def n(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    yield from build_node(tmp_path / "node", store)


def log_kinds(n: Node, share_id: str) -> list[str]:
    rows = n.ex.store.read(lambda sql: sql.execute(
        "SELECT kind FROM log_leaves WHERE share_id=? ORDER BY idx", (share_id,)).fetchall())
    return [str(r[0]) for r in rows]


def test_expired_share_is_purged_from_store_and_inboxes_and_stays_in_the_log(
        n: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    soon = n.publish("alpha", canary_bundle(canary), tlp="green", expires="1m")
    lasting = n.publish("alpha", bundle_with("l"), tlp="amber", to="group1", expires="1w")
    forever = n.publish("alpha", bundle_with("f"), tlp="amber", to="group1")
    hooked: list[str] = []
    n.ex.purge_tx_hooks.append(lambda sql, share_id: hooked.append(share_id))
    assert acc.purge_expired(n.ex) == 0   # nothing has expired yet
    size = n.ex.log.size()

    at = later(monkeypatch, 2)
    assert acc.purge_expired(n.ex) == 1
    assert hooked == [soon]
    got = n.ex.store.get_share(soon)
    assert got is not None and got[1] == ShareState(purged=True)
    assert got[0].payload == b"" and got[0].wraps == ()
    assert n.ex.store.read(lambda sql: sql.execute(
        "SELECT COUNT(*) FROM inbox WHERE share_id=?", (soon,)).fetchone()[0]) == 0
    for other in (lasting, forever):
        kept = n.ex.store.get_share(other)
        assert kept is not None and kept[1] == ShareState() and kept[0].payload != b""
    for who in ("bravo", "delta", "alpha"):
        assert n.http.get(f"/api/v1/shares/{soon}", headers=n.h(who)).status_code == 404
    for who in ("bravo", "delta"):
        inbox = n.http.get("/api/v1/inbox", headers=n.h(who)).json()["entries"]
        assert [e["share_id"] for e in inbox] == [lasting, forever]
    # the log keeps the share's entry (its header hash) and records the purge
    assert log_kinds(n, soon) == ["share", "purge"]
    assert n.ex.log.size() == size + 1
    [(_, data)] = n.ex.log.entries(size, size + 1)
    entry = orjson.loads(data)
    assert entry == {"v": 1, "kind": "purge", "share": soon, "originator": n.id("alpha"),
                     "to": sorted(n.id(w) for w in ("bravo", "charlie", "delta")), "at": at}
    assert acc.purge_expired(n.ex) == 0 and n.ex.log.size() == size + 1
    assert db_hits(n.ex, canary.encode()) == []
    if n.ex.store.dialect == "sqlite":
        assert scan([p for p in n.node.data.iterdir() if p.name.startswith("vigil.db")],
                    canary.encode()) == []


def test_a_pass_works_in_batches_and_reports_progress(
        n: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [n.publish("alpha", bundle_with(f"b{i}"), tlp="amber", to="group1", expires="1m")
           for i in range(5)]
    later(monkeypatch, 2)
    seen: list[int] = []
    assert acc.purge_expired(n.ex, batch=2, progress=seen.append) == 5
    assert seen == [2, 4, 5]
    for sid in ids:
        got = n.ex.store.get_share(sid)
        assert got is not None and got[1].purged


def test_a_recalled_share_is_purged_too(n: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    sid = n.publish("alpha", bundle_with("r"), tlp="amber", to="group1", expires="1m")
    assert n.http.post(f"/api/v1/shares/{sid}/recall", headers=n.h("alpha")).status_code == 201
    later(monkeypatch, 2)
    assert acc.purge_expired(n.ex) == 1
    assert log_kinds(n, sid) == ["share", "recall", "purge"]
    inbox = n.http.get("/api/v1/inbox", headers=n.h("bravo")).json()["entries"]
    assert inbox == []   # no recall notice for a purged share


def test_the_server_runs_retention_in_the_background(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for node in build_node(tmp_path / "node", None, retention=0.05):
        sid = node.publish("alpha", bundle_with("bg"), tlp="amber", to="group1", expires="1m")
        later(monkeypatch, 2)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = node.ex.store.get_share(sid)
            if got is not None and got[1].purged:
                break
            time.sleep(0.05)
        got = node.ex.store.get_share(sid)
        assert got is not None and got[1].purged and got[0].payload == b""


def test_a_share_whose_expiry_just_passed_is_purged_on_the_real_clock(tmp_path: Path) -> None:
    for n in build_node(tmp_path / "node", None):
        expires = clock.parse_expiry(clock.fmt(datetime.now(UTC) + timedelta(seconds=2)))
        sid = n.publish("alpha", bundle_with("rc"), tlp="amber", to="group1", expires=expires)
        assert acc.purge_expired(n.ex) == 0
        while clock.now() < expires:   # wait until its expiry is in the (near) past
            time.sleep(0.05)
        assert acc.purge_expired(n.ex) == 1
        got = n.ex.store.get_share(sid)
        assert got is not None and got[1].purged and log_kinds(n, sid) == ["share", "purge"]
