"""`vigil peer alarms|decide` and `vigil directory register|revoke` on one node's store: no
alarm to list or decide; a held member's keys registered in the directory log, revoked
once (lost key) and refused a second time; a member whose keyring the node does not hold
is not registered here."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from vigil.cli.main import cli
from vigil.testing import make_node


def test_alarms_and_the_directory(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "delta": False})
    run = CliRunner()
    base = ["--data", str(node.data)]

    def vigil(*args: str) -> str:
        r = run.invoke(cli, [*base, *args])
        assert r.exit_code == 0, (r.output, r.exception)
        return str(r.stdout)

    def refused(*args: str) -> str:
        r = run.invoke(cli, [*base, *args])
        assert r.exit_code != 0, r.output
        return str(getattr(r.exception, "code", r.output))

    assert vigil("peer", "alarms") == "no fork alarm\n"
    assert json.loads(vigil("peer", "alarms", "--json")) == []
    assert refused("peer", "decide", "node-x", "resume", "--reason", "r",
                   "--operator", "o") == "witness.no_alarm"
    said = vigil("directory", "register", "alpha")
    assert said.startswith("directory entry ")
    assert refused("directory", "register", "delta") == "member.not_found"
    assert refused("directory", "register", "nobody") == "member.not_found"
    said = vigil("directory", "revoke", "alpha", "--lost")
    assert said.startswith("directory entry ") and ": revoked from log index " in said
    assert refused("directory", "revoke", "alpha", "--lost") == "keys.revoked"
