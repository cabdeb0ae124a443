"""What ships: the wheel carries every file the node serves; the systemd unit and the
container definition are sound."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "vigil"


def served_files() -> set[str]:
    """Every file of the package that is not Python source: templates, static assets,
    data (warninglists, demo data), the typing marker."""
    return {str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


@pytest.mark.slow
def test_the_wheel_carries_every_file_the_node_serves(tmp_path: Path) -> None:
    wanted = served_files()
    assert any(f.startswith("vigil/web/console/templates/") for f in wanted)
    assert any(f.startswith("vigil/data/warninglists/") for f in wanted)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True,
                           timeout=300, check=False)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("vigil-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert wanted - names == set()
    modules = {str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")}
    assert modules - names == set()


def test_the_systemd_unit_is_valid_and_hardened(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    text = (ROOT / "deploy" / "vigil.service").read_text()
    assert "ExecStart=/opt/vigil/bin/vigil serve" in text and "User=vigil" in text
    # the same unit, pointed at a vigil executable that exists here
    unit = tmp_path / "vigil.service"
    unit.write_text(text.replace("/opt/vigil/bin/vigil", str(Path(sys.executable).parent
                                                              / "vigil")))
    verify = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True,
                            check=False)
    assert verify.returncode == 0 and verify.stderr.strip() == "", verify.stderr
    security = subprocess.run([tool, "security", "--offline=yes", "--no-pager", str(unit)],
                              capture_output=True, text=True, check=False)
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert level is not None, security.stdout + security.stderr
    assert float(level.group(1)) <= 2.5, security.stdout


def test_the_container_installs_the_lock_and_runs_unprivileged() -> None:
    text = (ROOT / "Containerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    froms = [ln.split()[1] for ln in lines if ln.startswith("FROM ")]
    assert froms and all(re.fullmatch(r"python:3\.1[1-9]-slim-[a-z]+", f) for f in froms)
    assert "pip install --no-cache-dir -r requirements.lock" in text
    for ln in lines:
        if ln.startswith("COPY ") and "--from=" not in ln:
            for src in ln.split()[1:-1]:
                assert (ROOT / src).exists(), src
    user = [ln for ln in lines if ln.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("root", "0")
    assert 'VOLUME ["/var/lib/vigil"]' in text and "VIGIL_DATA=/var/lib/vigil" in text
    assert lines[-2:] == ['ENTRYPOINT ["vigil"]', 'CMD ["serve"]']
