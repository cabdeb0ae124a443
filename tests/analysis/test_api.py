"""The analysis CLI commands, alone and against a live server (the REST endpoints:
tests/web/test_analysis.py)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests.conftest import four_member_exchange

from vigil.cli.main import cli
from vigil.testing.stix import ioc_bundle


def test_cli_search_warninglist_and_rebuild(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    from tests.analysis.helpers import publish

    m = node.members
    a = publish(ex, m["alpha"].id, ioc_bundle("45.77.8.8"))
    ex.store.close()
    run = CliRunner()
    base = ["--data", str(node.data)]
    res = run.invoke(cli, [*base, "search", "45.77.8[.]8", "--as", "bravo"])
    assert res.exit_code == 0, res.output
    assert a.envelope.id in res.output and "ip 45.77.8.8: 1 share(s)" in res.output
    wl = tmp_path / "wl.json"
    wl.write_text(json.dumps({"name": "mine", "type": "string", "list": ["45.77.8.8"]}))
    res = run.invoke(cli, [*base, "warninglist", "add", str(wl), "--as", "bravo"])
    assert res.exit_code == 0, res.output
    res = run.invoke(cli, [*base, "search", "45.77.8.8", "--as", "bravo", "--json"])
    assert json.loads(res.output)["warninglists"] == ["mine"]
    res = run.invoke(cli, [*base, "correlate", "--rebuild"])
    assert res.exit_code == 0, res.output
    assert "\r" not in res.output  # no progress drawn when not on a terminal
    assert '"observables": 1' in res.output


def test_cli_against_a_live_server(tmp_path: Path) -> None:
    from vigil.testing import ServerProcess

    node, ex = four_member_exchange(tmp_path / "node")
    from tests.analysis.helpers import publish

    m = node.members
    a = publish(ex, m["alpha"].id, ioc_bundle("45.77.3.0/24"))
    publish(ex, m["bravo"].id, ioc_bundle("45.77.3.3"))
    ex.store.close()
    run = CliRunner()
    wl = tmp_path / "wl.json"
    wl.write_text(json.dumps({"name": "mine", "type": "cidr", "list": ["45.77.0.0/16"]}))
    with ServerProcess(node.data) as server:
        base = ["--data", str(node.data)]
        auth = ["--node", server.url, "--token", m["bravo"].token]
        res = run.invoke(cli, [*base, "correlations", *auth])
        assert res.exit_code == 0, res.output
        doc = json.loads(res.output)
        assert [n["match"]["share"] for n in doc["notices"]] == [a.envelope.id]
        res = run.invoke(cli, [*base, "search", "45.77.3[.]3", *auth])
        assert res.exit_code == 0 and "2 share(s)" in res.output, res.output
        res = run.invoke(cli, [*base, "warninglist", "add", str(wl), *auth])
        assert res.exit_code == 0 and "'mine': 1 usable of 1 entries" in res.output, res.output
        res = run.invoke(cli, [*base, "warninglist", "list", *auth])
        assert "own" in res.output and "mine" in res.output
        res = run.invoke(cli, [*base, "correlations", *auth])
        assert json.loads(res.output)["notices"] == []  # its own list hides the match
        res = run.invoke(cli, [*base, "warninglist", "remove", "mine", *auth])
        assert res.exit_code == 0, res.output


