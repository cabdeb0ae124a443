"""`vigil recall` and `vigil receipts` (a member's commands over HTTP) and `vigil purge
--expired` (one retention pass on the node's own store), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.node.helpers import Node, build_node, later

from vigil.testing.stix import canary_bundle as bundle_with


@pytest.fixture(params=["sqlite", "postgresql"])
def n(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    yield from build_node(tmp_path / "node", store)


def test_cli_recall_and_receipts(n: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.cli import main as cli_mod

    sid = n.publish("alpha", bundle_with("cli"), tlp="amber", to="group1")
    transport = n.http._transport
    real = httpx.Client

    def patched(*a: Any, **kw: Any) -> httpx.Client:
        kw["transport"] = transport
        return real(*a, **kw)

    monkeypatch.setattr(httpx, "Client", patched)
    args = ["--data", str(n.node.data)]
    remote = ["--node", "http://testserver", "--token", n.node.members["alpha"].token]
    run = CliRunner().invoke(cli_mod.cli, [*args, "recall", sid, *remote],
                             catch_exceptions=False)
    assert run.exit_code == 0 and "recalled at" in run.output
    run = CliRunner().invoke(cli_mod.cli, [*args, "receipts", sid, *remote],
                             catch_exceptions=False)
    assert run.exit_code == 0
    assert "bravo" in run.output and "2 recipient(s) have not acknowledged" in run.output
    bravo = ["--node", "http://testserver", "--token", n.node.members["bravo"].token]
    run = CliRunner().invoke(cli_mod.cli, [*args, "inbox", *bravo], catch_exceptions=False)
    assert run.exit_code == 0 and sid in run.output and "RECALLED" in run.output


def test_cli_purge_expired_runs_one_pass(n: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.cli import main as cli_mod

    sid = n.publish("alpha", bundle_with("c"), tlp="amber", to="group1", expires="1m")
    later(monkeypatch, 2)
    run = CliRunner().invoke(cli_mod.cli, ["--data", str(n.node.data), "purge", "--expired"],
                             catch_exceptions=False)
    assert run.exit_code == 0
    assert "1 expired share(s) purged" in run.stdout and "purged 1" in run.stderr
    got = n.ex.store.get_share(sid)
    assert got is not None and got[1].purged
    refused = CliRunner().invoke(cli_mod.cli, ["--data", str(n.node.data), "purge"])
    assert refused.exit_code != 0
