"""`vigil backup` and `vigil restore` as commands: the backup's summary, a restore that
checks out (exit 0) and one into a data directory that already holds a node (refused)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from vigil.cli.main import cli
from vigil.testing import make_node
from vigil.testing.node import publish_one


def test_backup_then_restore(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    ex = node.exchange()
    publish_one(ex, node.members["alpha"].id)
    ex.store.close()
    dest = tmp_path / "backup"
    done = CliRunner().invoke(cli, ["--data", str(node.data), "backup", str(dest)])
    assert done.exit_code == 0, done.output
    assert (dest / "node" / "node.key").exists() and (dest / "manifest.json").exists()
    restored = tmp_path / "restored"
    back = CliRunner().invoke(cli, ["--data", str(restored), "restore", str(dest)])
    assert back.exit_code == 0, back.output
    report = json.loads(back.output[back.output.index("{"):])
    assert report["ok"] is True
    again = CliRunner().invoke(cli, ["--data", str(restored), "restore", str(dest)])
    assert again.exit_code != 0  # the data directory holds a node now
