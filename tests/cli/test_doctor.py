"""`vigil doctor` as a command: a line per finding with its fix, or the JSON summary;
exit status 1 on any problem."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from vigil.cli.main import cli
from vigil.testing import make_node


def test_findings_their_fixes_and_the_exit_status(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    args = ["--data", str(node.data), "doctor"]
    sound = CliRunner().invoke(cli, args)
    assert sound.exit_code == 0, sound.output
    assert "PROBLEM" not in sound.output and sound.output.startswith("ok ")
    as_json = CliRunner().invoke(cli, [*args, "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["ok"] is True

    (node.data / "node.key").chmod(0o644)
    found = CliRunner().invoke(cli, args)
    assert found.exit_code == 1
    line = next(x for x in found.output.splitlines() if "node.key has mode 644" in x)
    assert line.startswith("PROBLEM files:")
    assert "        fix: " in found.output and "chmod 600" in found.output
    bad = CliRunner().invoke(cli, [*args, "--json"])
    assert bad.exit_code == 1 and json.loads(bad.output)["ok"] is False
