"""`vigil use`, `vigil consent ask|list|answer` and `vigil match index|ask|answer|hits`,
a member's commands against a live server: a court use the handling forbids refused
until the originator grants it; a selector one member indexed found by another."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests.conftest import four_member_exchange

from vigil.cli.main import cli
from vigil.client import Client
from vigil.testing import ServerProcess
from vigil.testing.stix import canary_bundle


def test_consent_use_and_matching(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    ex.store.close()
    m = node.members
    run = CliRunner()
    with ServerProcess(node.data) as srv:

        def vigil(who: str, *args: str, ok: bool = True) -> str:
            r = run.invoke(cli, ["--data", str(node.data), *args, "--node", srv.url,
                                 "--token", m[who].token])
            if not ok:
                assert r.exit_code != 0, r.output
                return str(getattr(r.exception, "code", r.output))
            assert r.exit_code == 0, (r.output, r.exception)
            return str(r.stdout)

        with Client(srv.url, m["alpha"].token) as alpha:
            sid = alpha.publish(canary_bundle("court"), tlp="amber", to=["group1"],
                                codes=["no-court"])["id"]
        use = ("use", sid, "court", "--purpose", "trial of case 42")
        assert vigil("bravo", *use, ok=False) == "policy.grant_required"
        asked = vigil("bravo", "consent", "ask", sid, "court", "--reason", "trial")
        assert asked.startswith("asked ") and asked.endswith(f"(court of {sid}): pending\n")
        rid = asked.split()[1]
        [line] = vigil("alpha", "consent", "list", "--role", "originator").splitlines()
        assert line.split()[:4] == [rid, "pending", "court", sid] and line.endswith("trial")
        assert vigil("alpha", "consent", "answer", rid, "--grant") == f"{rid}: granted\n"
        assert vigil("bravo", *use).startswith(f"court of {sid} recorded (")
        assert vigil("delta", *use, ok=False) == "policy.grant_required"

        selectors = tmp_path / "selectors.txt"
        selectors.write_text("phone +372 5555 1234\n\niban EE382200221020145685\n")
        key = ["--match-key", str(tmp_path / "bravo.match")]
        assert vigil("bravo", "match", "index", str(selectors), *key) == "index: 2 selector(s)\n"
        q = json.loads(vigil("alpha", "match", "ask", "phone", "+372 5555 1234"))
        assert (q["kind"], q["value"]) == ("phone", "+372 5555 1234")
        hits = ("match", "hits", q["query"], "--kind", "phone", "--value", q["value"],
                "--blind", q["blind"])
        assert vigil("alpha", *hits) == "no holder has answered with a match (yet)\n"
        assert vigil("bravo", "match", "answer", *key) == "answered 1 quer(y/ies)\n"
        assert vigil("alpha", *hits) == "held by member:bravo\n"
        other = json.loads(vigil("alpha", "match", "ask", "phone", "+372 5555 9999"))
        vigil("bravo", "match", "answer", *key)
        assert vigil("alpha", "match", "hits", other["query"], "--kind", "phone", "--value",
                     other["value"], "--blind", other["blind"]).startswith("no holder")
