"""Large values to and from the bundle workers go through owner-only memory files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vigil.node import spill as sp


@pytest.fixture
def shm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(sp, "DIRECTORY", tmp_path)
    monkeypatch.setattr(sp, "MIN", 1000)
    monkeypatch.setattr(sp, "WRITE", 333)  # several writes
    return tmp_path


def test_large_value_spilled_read_once_and_removed(shm: Path) -> None:
    data = os.urandom(5000)
    got = sp.spill(data)
    assert isinstance(got, sp.Spilled)
    f = Path(got.path)
    assert f.parent == shm and f.read_bytes() == data
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert sp.unspill(got) == data and not f.exists()
    sp.discard(got)  # already gone: nothing to do


def test_small_value_or_no_directory_travels_as_itself(
        shm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert sp.spill(b"x" * 999) == b"x" * 999
    assert sp.unspill(b"abc") == b"abc"
    monkeypatch.setattr(sp, "DIRECTORY", shm / "missing")
    assert sp.spill(b"x" * 5000) == b"x" * 5000
    assert list(shm.iterdir()) == []


def test_a_failed_write_leaves_no_file(shm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sp.os, "write", full)
    assert sp.spill(b"y" * 5000) == b"y" * 5000
    assert list(shm.iterdir()) == []


def test_files_of_a_gone_serving_process_are_swept(shm: Path) -> None:
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    mine = sp.spill(b"m" * 5000)
    theirs = sp.spill(b"t" * 5000, owner=int(gone))
    assert isinstance(mine, sp.Spilled) and isinstance(theirs, sp.Spilled)
    assert Path(theirs.path).name.startswith(f"{sp.PREFIX}{gone}-")
    (shm / "unrelated").write_bytes(b"x")
    assert sp.sweep() == 1
    assert Path(mine.path).exists() and not Path(theirs.path).exists()
    assert (shm / "unrelated").exists()
