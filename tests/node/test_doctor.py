"""`vigil doctor` finds each misconfiguration planted here, and passes a sound node."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from vigil.node import doctor
from vigil.storage.sqlite import SqliteStore
from vigil.testing import free_port, make_node
from vigil.testing.node import publish_one
from vigil.testing.node import run_cli as vigil


def problems(findings: list[doctor.Finding], check: str) -> list[doctor.Finding]:
    return [f for f in findings if f.check == check and f.level == "problem"]


def test_a_sound_node_passes_and_a_readable_key_is_found(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    sound = vigil("--data", str(node.data), "doctor")
    assert "PROBLEM" not in sound.stdout, sound.stdout
    assert doctor.summary(doctor.run(node.settings))["ok"]

    (node.data / "node.key").chmod(0o644)
    found = vigil("--data", str(node.data), "doctor", ok=False)
    assert found.returncode == 1
    assert "node.key has mode 644" in found.stdout and "chmod 600" in found.stdout
    (node.data / "vigil.db").chmod(0o640)
    (bad,) = [f for f in problems(doctor.run(node.settings), "files") if "database" in f.message]
    assert "vigil.db" in bad.message


def test_synchronous_off_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    connect = SqliteStore._connect

    def lowered(self: SqliteStore) -> sqlite3.Connection:
        conn = connect(self)
        conn.execute("PRAGMA synchronous=OFF")
        return conn

    monkeypatch.setattr(SqliteStore, "_connect", lowered)
    (found,) = problems(doctor.run(node.settings), "durability")
    assert "synchronous=OFF" in found.message


def test_an_unreachable_bus_is_found(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    settings = node.settings.with_overrides(bus=f"nats://127.0.0.1:{free_port()}")
    (found,) = problems(doctor.run(settings), "bus")
    assert "does not answer" in found.message and "nats-server" in found.fix


def test_a_clock_set_back_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    try:
        publish_one(ex, node.members["alpha"].id)
    finally:
        ex.store.close()
    assert not problems(doctor.run(node.settings), "clock")
    monkeypatch.setattr(doctor, "now", lambda: time.time() - 3600)
    (found,) = problems(doctor.run(node.settings), "clock")
    assert "set back" in found.message


@pytest.mark.service
def test_postgres_skew_and_durability(tmp_path: Path, pg_url: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    node = make_node(tmp_path / "node", {"alpha": True}, store=pg_url)
    findings = doctor.run(node.settings)
    assert not [f for f in findings if f.level == "problem"], findings
    monkeypatch.setattr(doctor, "now", lambda: time.time() + 30)
    (found,) = problems(doctor.run(node.settings), "clock")
    assert "+30" in found.message or "+29" in found.message
    monkeypatch.undo()

    import psycopg

    name = pg_url.rpartition("/")[2]
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    (found,) = problems(doctor.run(node.settings), "durability")
    assert "synchronous_commit=off" in found.message


def test_an_unreachable_store_is_found(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    gone = node.settings.with_overrides(
        store=f"postgresql://127.0.0.1:{free_port()}/vigil?pool_timeout=1")
    findings = doctor.run(gone)
    (found,) = problems(findings, "store")
    assert "does not answer" in found.message
    assert not [f for f in findings if f.check in ("durability", "clock")]
    missing = node.settings.with_overrides(store=f"sqlite:///{tmp_path / 'nowhere.db'}")
    (found,) = problems(doctor.run(missing), "store")
    assert not (tmp_path / "nowhere.db").exists()
