"""A node's data directory and every file `vigil init` makes are its owner's only."""

from __future__ import annotations

import stat
from pathlib import Path

from vigil.testing import make_node


def test_init_makes_owner_only_files(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    data = node.data
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {"vigil.db", "node.json", "node.key", "vigil.toml"} <= {p.name for p in files}
    loose = {str(p.relative_to(data)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files
             if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}
    dirs = [p for p in data.rglob("*") if p.is_dir()]
    assert all(stat.S_IMODE(p.stat().st_mode) & 0o077 == 0 for p in dirs)
