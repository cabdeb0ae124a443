"""`vigil log` against a live server: audit, a silent drop, gossip, a rollback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.test_cli import vigil
from tests.test_e2e import bundle_with

from vigil.testing import ServerProcess, make_node


def test_log_verify_reports_a_share_dropped_behind_the_nodes_back(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True})
    m = node.members
    ex = node.exchange()
    ex.store.close()
    with ServerProcess(node.data) as srv:
        alpha = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": m["alpha"].token}
        bravo = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": m["bravo"].token,
                 "VIGIL_LOG_STATE": str(tmp_path / "bravo-checkpoints.json")}
        ids = []
        for i in range(3):
            out = vigil("publish", "-", "--tlp", "amber", "--to", "member:bravo", env=alpha,
                        stdin=bundle_with(f"LOG-{i}")).stdout
            ids.append(next(w for w in out.split() if w.startswith("share--")))
        clean = json.loads(vigil("log", "verify", env=bravo).stdout)
        assert clean["ok"] and clean["root_ok"] and clean["undelivered"] == []
        assert clean["shares_checked"] == 3 and clean["first_use"]
        with sqlite3.connect(node.data / "vigil.db") as db:
            db.execute("DELETE FROM inbox WHERE share_id=? AND member_id=?",
                       (ids[1], m["bravo"].id))
        found = vigil("log", "verify", env=bravo, ok=False)
        assert found.returncode == 1
        report = json.loads(found.stdout)
        assert report["undelivered"] == [ids[1]] and not report["first_use"]

        proof = json.loads(vigil("log", "proof", "1", env=bravo).stdout)
        assert proof["verified"] and proof["index"] == 1
        cons = json.loads(vigil("log", "consistency", "2", "5", env=bravo).stdout)
        assert cons["verified"]
        bad = vigil("log", "consistency", "0", "5", env=bravo, ok=False)
        assert bad.returncode == 1 and "input.out_of_range" in bad.stderr
        assert "(at /first)" in bad.stderr  # refused by the CLI, before any request

        gossip = json.loads(vigil("log", "gossip", env=bravo).stdout)
        assert gossip["forks"] == [] and gossip["checkpoints"] >= 1
        held = json.loads((tmp_path / "bravo-checkpoints.json").read_text())
        (note,) = [v["checkpoint"] for v in held.values()]
        (tmp_path / "cp.note").write_text(note)
        same = json.loads(vigil("log", "compare", str(tmp_path / "cp.note"), env=bravo).stdout)
        assert same["consistent"]
