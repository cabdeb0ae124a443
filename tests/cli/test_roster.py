"""`vigil roster propose|sign|apply|show` on one node's store: a genesis statement written
to a file, refused until signed, applied once it carries the founder's signature; a
statement naming the wrong number of nodes is a usage error."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from vigil.cli.main import cli
from vigil.testing import make_node


def test_a_one_node_genesis(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    run = CliRunner()
    base = ["--data", str(node.data), "roster"]
    path = tmp_path / "genesis.json"

    def vigil(*args: str) -> str:
        r = run.invoke(cli, [*base, *args])
        assert r.exit_code == 0, (r.output, r.exception)
        return str(r.stdout)

    assert json.loads(vigil("show")) == {"nodes": [], "threshold": None, "statements": []}
    assert vigil("propose", "genesis", "--out", str(path)) == f"wrote {path}\n"
    written = json.loads(path.read_text())
    refused = run.invoke(cli, [*base, "apply", str(path)])
    assert str(getattr(refused.exception, "code", "")).startswith("roster."), refused.output
    assert vigil("sign", str(path)) == "1 signature(s)\n"
    signed = json.loads(path.read_text())
    assert signed["statement"] == written["statement"]
    node_id = next(iter(signed["statement"]["nodes"]))
    assert vigil("apply", str(path)) == f"roster: {node_id}\n"
    shown = json.loads(vigil("show"))
    assert shown["nodes"] == [node_id] and shown["threshold"] == 1
    assert shown["statements"] == [signed["statement"]]
    r = run.invoke(cli, [*base, "propose", "admit", "a", "b", "--out", str(path)])
    assert r.exit_code == 2 and "admit names one node" in r.output
