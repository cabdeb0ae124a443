"""`vigil backup` while the node publishes, `vigil restore` elsewhere, `vigil log verify`
against the member's earlier checkpoint; a tampered backup is refused."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vigil.config import load_settings
from vigil.errors import InputError
from vigil.node.backup import MANIFEST, _sha256, restore
from vigil.testing import ServerProcess, make_node
from vigil.testing.node import run_cli as vigil
from vigil.testing.postgres import Databases
from vigil.testing.stix import canary_bundle as bundle_with


@pytest.fixture
def backup_databases(pg_databases: Databases) -> Iterator[list[str]]:
    """Fresh, empty PostgreSQL databases: source, restore, tampered restore, scratch."""
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(pg_databases.fresh(migrated=False)) for _ in range(4)]


def reseal(backup: Path) -> None:
    """What a forger would do: make the manifest's file digests match again."""
    manifest = json.loads((backup / MANIFEST).read_text())
    manifest["files"] = {name: _sha256(backup / name) for name in manifest["files"]}
    (backup / MANIFEST).write_text(json.dumps(manifest))


def tamper_share(backup: Path, share_id: str, pg_scratch: str | None) -> None:
    """Change one share's stored header in the backup, then reseal the manifest."""
    if pg_scratch is None:
        with sqlite3.connect(backup / "store.db") as db:
            changed = db.execute("UPDATE shares SET header = replace(header, 'amber', "
                                 "'green') WHERE id = ?", (share_id,)).rowcount
            assert changed == 1
    else:
        import psycopg

        subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                        f"--dbname={pg_scratch}", str(backup / "store.dump")], check=True)
        with psycopg.connect(pg_scratch, autocommit=True) as db:
            changed = db.execute(
                "UPDATE shares SET header = convert_to(replace(convert_from(header, 'UTF8'), "
                "'amber', 'green'), 'UTF8') WHERE id = %s", (share_id,)).rowcount
            assert changed == 1
        (backup / "store.dump").unlink()
        subprocess.run(["pg_dump", "--format=custom", f"--file={backup / 'store.dump'}",
                        f"--dbname={pg_scratch}"], check=True)
    reseal(backup)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.service)])
def test_backup_while_publishing_then_restore_verifies_and_tamper_is_caught(
        tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> None:
    dbs: list[str | None] = [None, None, None, None]
    if backend == "postgresql":
        dbs = list(request.getfixturevalue("backup_databases"))
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True}, store=dbs[0])
    m = node.members
    state = tmp_path / "bravo-checkpoints.json"
    acked: list[str] = []
    before_backup: list[str] = []
    stop = threading.Event()
    with ServerProcess(node.data) as srv:
        alpha = {"Authorization": f"Bearer {m['alpha'].token}"}
        bravo = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": m["bravo"].token,
                 "VIGIL_LOG_STATE": str(state)}

        def publish() -> None:
            r = httpx.post(f"{srv.url}/api/v1/shares", params={"tlp": "amber",
                                                               "to": "member:bravo"},
                           content=bundle_with(f"BACKUP-{len(acked)}", 1), headers=alpha,
                           timeout=30)
            assert r.status_code == 201, r.text
            acked.append(r.json()["id"])

        for _ in range(3):
            publish()
        first = json.loads(vigil("log", "verify", env=bravo).stdout)
        assert first["ok"] and first["first_use"]

        def keep_publishing() -> None:
            while not stop.is_set():
                publish()

        writer = threading.Thread(target=keep_publishing)
        writer.start()
        try:
            while len(acked) < 6:
                stop.wait(0.01)
            before_backup = list(acked)
            done = vigil("--data", str(node.data), "backup", str(tmp_path / "backup"))
        finally:
            stop.set()
            writer.join(30)
        assert json.loads(done.stdout)["log_size"] >= len(before_backup)
    backup = tmp_path / "backup"
    assert (backup / "node" / "node.key").stat().st_mode & 0o777 == 0o600
    assert backup.stat().st_mode & 0o777 == 0o700
    # bravo's accepted checkpoint, kept outside the backup, anchors the restore
    (note,) = [v["checkpoint"] for v in json.loads(state.read_text()).values()]
    (tmp_path / "bravo.note").write_text(note)

    store_opt = ["--store", dbs[1]] if dbs[1] else []
    restored = tmp_path / "restored"
    done = vigil("--data", str(restored), "restore", str(backup), *store_opt,
                 "--checkpoint", str(tmp_path / "bravo.note"))
    report = json.loads(done.stdout)
    assert report["ok"] and report["checkpoints_checked"] == 2, report
    with ServerProcess(restored) as srv:
        bravo = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": m["bravo"].token,
                 "VIGIL_LOG_STATE": str(state)}
        audit = json.loads(vigil("log", "verify", env=bravo).stdout)
        assert audit["ok"] and not audit["first_use"] and audit["undelivered"] == []
        inbox = httpx.get(f"{srv.url}/api/v1/inbox", params={"limit": 1000},
                          headers={"Authorization": f"Bearer {m['bravo'].token}"}).json()
        held = {e["share_id"] for e in inbox["entries"]}
        assert set(before_backup) <= held

    forged = tmp_path / "forged"
    shutil.copytree(backup, forged)
    tamper_share(forged, before_backup[1], dbs[3])
    bad = restore(load_settings(tmp_path / "bad"), forged, store=dbs[2])
    assert not bad.ok
    assert any(before_backup[1] in p and "differs from its log entry" in p
               for p in bad.problems), bad.problems
    assert not (tmp_path / "bad" / "node.json").exists()

    # a file changed without resealing the manifest is refused before anything is written
    plain = tmp_path / "plain"
    shutil.copytree(backup, plain)
    (plain / "node" / "vigil.toml").write_text("store = 'sqlite:///elsewhere.db'\n")
    with pytest.raises(InputError) as refused:
        restore(load_settings(tmp_path / "plain-node"), plain)
    assert refused.value.code == "restore.corrupt"
    assert not (tmp_path / "plain-node").exists()


def test_backup_refuses_a_destination_it_would_copy_into_itself(tmp_path: Path) -> None:
    from vigil.errors import Conflict
    from vigil.node.backup import backup

    node = make_node(tmp_path / "node", {"alpha": True})
    with pytest.raises(InputError) as inside:
        backup(node.settings, node.data / "backups" / "one")
    assert inside.value.code == "backup.dest_inside_data"
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(Conflict):
        backup(node.settings, tmp_path / "full")
    info = backup(node.settings, tmp_path / "ok")
    assert info["log_size"] >= 1 and (tmp_path / "ok" / MANIFEST).exists()


def test_restore_finds_each_kind_of_damage(tmp_path: Path) -> None:
    from vigil.node.backup import backup
    from vigil.testing.node import publish_one

    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        for _ in range(3):
            publish_one(ex, node.members["alpha"].id)
        early_note = ex.log.checkpoint(2)[1]  # a checkpoint a member took earlier
        ids = [r[0] for r in ex.store.query("SELECT id FROM shares ORDER BY seq")]
    finally:
        ex.store.close()
    backup(node.settings, tmp_path / "backup")
    (tmp_path / "early.note").write_text(early_note)
    damages = {
        "lost share": ("DELETE FROM shares WHERE id = ?", (ids[0],),
                       f"logged share {ids[0]} is missing"),
        "lost entry": ("DELETE FROM log_leaves WHERE idx = 1", (), "are missing"),
        "payload": ("UPDATE shares SET payload = CAST('{}' AS BLOB) WHERE id = ?", (ids[2],),
                    "payload does not match its digest"),
        "rewritten": ("UPDATE log_leaves SET data = CAST('{}' AS BLOB) WHERE idx = 0", (),
                      "do not hash to the checkpoint"),
    }
    clean = restore(load_settings(tmp_path / "clean"), tmp_path / "backup",
                    checkpoints=[("early", early_note)])
    assert clean.ok and clean.checkpoints == 2 and clean.shares == 3, clean.problems
    for name, (sql, params, expected) in damages.items():
        copy = tmp_path / name.replace(" ", "-")
        shutil.copytree(tmp_path / "backup", copy)
        with sqlite3.connect(copy / "store.db") as db:
            assert db.execute(sql, params).rowcount == 1
        reseal(copy)
        report = restore(load_settings(tmp_path / f"{copy.name}-node"), copy)
        assert not report.ok and any(expected in p for p in report.problems), (
            name, report.problems)
