"""SQLite payloads stored apart from their share rows (vigil.storage.payloads): read
back on every path, removed with recall and expiry (a canary scan of every file finds
nothing), their files removed when the transaction fails and swept when no row names
them, and carried by backup and restore."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.node.helpers import Node, build_node, canary_bundle, db_hits, later

from vigil.node import accountability as acc
from vigil.node.backup import backup, restore
from vigil.storage import open_store
from vigil.storage.payloads import SWEEP_AGE, payload_dir
from vigil.storage.sqlite import SqliteStore
from vigil.testing.node import scan


@pytest.fixture
def n(tmp_path: Path) -> Iterator[Node]:
    for node in build_node(tmp_path / "node", None):
        assert isinstance(node.ex.store, SqliteStore)
        node.ex.store.apart = 1  # every payload apart
        yield node


def files(n: Node) -> list[Path]:
    d = payload_dir(str(n.node.data / "vigil.db"))
    return sorted(d.iterdir()) if d.is_dir() else []


def every_file(n: Node) -> list[Path]:
    return [p for p in n.node.data.iterdir() if p.name.startswith("vigil.db")]


def test_a_payload_apart_is_read_on_every_path_and_its_row_holds_none(n: Node) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    sid = n.publish("alpha", canary_bundle(canary), tlp="green", to="everyone")
    [f] = files(n)
    assert canary.encode() in f.read_bytes() and f.stat().st_mode & 0o077 == 0
    # no share row holds it (the TAXII index keeps the objects of plain shares)
    assert [h for h in db_hits(n.ex, canary.encode()) if h.startswith("shares[")] == []
    got = n.ex.store.get_share(sid)
    assert got is not None and canary.encode() in got[0].payload
    for who in ("bravo", "delta"):
        inbox = n.http.get("/api/v1/inbox", headers=n.h(who)).json()["entries"]
        assert [e["share_id"] for e in inbox] == [sid]
        content = n.http.get(f"/api/v1/shares/{sid}/content", headers=n.h(who))
        assert content.status_code == 200 and canary.encode() in content.content
    sent = n.ex.store.sent(n.id("alpha"), 0, 10)
    assert canary.encode() in sent[0][1].payload
    taxii = n.http.get("/api/v1/search", params={"q": f"domain:{canary.lower()}.example.org"},
                       headers=n.h("bravo"))
    assert taxii.status_code == 200
    # the same envelope again is the same share, its file the same file
    assert n.ex.store.put_share(got[0], (), "2026-12-07T00:00:00.000Z") is False
    assert files(n) == [f]


def test_recall_and_expiry_remove_the_file(n: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    recalled = n.publish("alpha", canary_bundle(canary), tlp="green", to="everyone")
    n.publish("alpha", canary_bundle(canary + "-x"), tlp="green", to="everyone",
              expires="1m")
    assert len(files(n)) == 2
    acc.recall(n.ex, n.id("alpha"), recalled)
    assert len(files(n)) == 1
    later(monkeypatch, 2)
    assert acc.purge_expired(n.ex) == 1
    assert files(n) == []
    assert db_hits(n.ex, canary.encode()) == []
    assert scan(every_file(n), canary.encode()) == []


def test_a_failed_transaction_leaves_no_file(n: Node) -> None:
    def fail(*_: object) -> None:
        raise RuntimeError("a hook failed")

    n.ex.share_tx_hooks.append(fail)
    with pytest.raises(RuntimeError):
        n.http.post("/api/v1/shares", params={"tlp": "green", "to": "everyone"},
                    content=canary_bundle("x"), headers=n.h("alpha"))
    assert files(n) == [] and n.ex.store.share_count() == 0


def test_files_no_row_names_are_swept_at_the_next_open(n: Node) -> None:
    n.publish("alpha", canary_bundle("kept"), tlp="green", to="everyone")
    [kept] = files(n)
    d = kept.parent
    old, young = d / ("0" * 64 + "-old"), d / ("0" * 64 + "-young")
    old.write_bytes(b"left by a commit that never happened")
    young.write_bytes(b"a commit under way")
    # a day past the sweep age: a step of the machine's clock between here and the
    # sweep cannot make it young again
    past = time.time() - SWEEP_AGE - 86400
    os.utime(old, (past, past))
    assert old.stat().st_mtime == pytest.approx(past)
    open_store(f"sqlite:///{n.node.data / 'vigil.db'}").close()
    assert files(n) == sorted([kept, young])


def test_backup_and_restore_carry_the_files(n: Node, tmp_path: Path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    sid = n.publish("alpha", canary_bundle(canary), tlp="green", to="everyone")
    out = tmp_path / "backup"
    backup(n.node.settings, out)
    assert scan([out / "node"], canary.encode()) == []  # not twice
    assert len(list((out / "store.db-payloads").iterdir())) == 1
    target = n.node.settings.with_overrides(data=str(tmp_path / "restored"))
    report = restore(target, out)
    assert report.ok, report.problems
    restored = open_store(f"sqlite:///{tmp_path / 'restored' / 'vigil.db'}")
    try:
        got = restored.get_share(sid)
        assert got is not None and canary.encode() in got[0].payload
    finally:
        restored.close()
