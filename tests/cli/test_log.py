"""`vigil log` against a live server: audit, a silent drop, gossip, a rollback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from vigil.testing import ServerProcess, make_node
from vigil.testing.node import run_cli as vigil
from vigil.testing.stix import canary_bundle as bundle_with


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


def _share_id(out: str) -> str:
    return next(w for w in out.split() if w.startswith("share--"))


def test_every_member_command_keeps_checkpoint_state_and_refuses_a_rollback(
        tmp_path: Path) -> None:
    import shutil

    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    m = node.members
    old = tmp_path / "node-backup"
    shutil.copytree(node.data, old)  # the node as a restored backup will show it
    a_dir, b_dir = tmp_path / "alpha-side", tmp_path / "bravo-side"
    with ServerProcess(node.data) as srv:
        alpha = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": m["alpha"].token}
        bravo = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": m["bravo"].token}
        sid = _share_id(vigil("--data", str(a_dir), "publish", "-", "--tlp", "amber", "--to",
                              "member:bravo", env=alpha, stdin=bundle_with("STATE-1")).stdout)
        assert (a_dir / "checkpoints.json").exists()  # publish keeps the state too
        assert sid in vigil("--data", str(b_dir), "inbox", env=bravo).stdout
        vigil("--data", str(b_dir), "show", sid, env=bravo)
        held = json.loads((b_dir / "checkpoints.json").read_text())
        (size,) = [v["size"] for v in held.values()]
        assert size >= 3
    with ServerProcess(old) as stale:
        got = vigil("--data", str(b_dir), "inbox", env={**bravo, "VIGIL_NODE": stale.url},
                    ok=False)
    assert got.returncode == 1 and "log.rollback" in got.stderr
    held = json.loads((b_dir / "checkpoints.json").read_text())
    (doc,) = held.values()
    assert doc["size"] == size and doc["evidence"][0]["kind"] == "rollback"


def test_log_watch_tells_the_member_of_a_key_it_did_not_make(tmp_path: Path) -> None:
    from vigil import clock
    from vigil.crypto.keyring import Keyring
    from vigil.log.entries import member_entry

    node = make_node(tmp_path / "node", {"alpha": True, "bravo": False})
    b = node.members["bravo"]
    with ServerProcess(node.data) as srv:
        env = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": b.token,
               "VIGIL_KEYRING": str(b.keyring_path), "VIGIL_DATA": str(tmp_path / "bravo")}
        first = vigil("log", "watch", "--once", "--from", "0", env=env)
        (own,) = [json.loads(line) for line in first.stdout.splitlines()]
        assert own["entry"]["member"] == b.id and not own["foreign"]
        assert vigil("log", "watch", "--once", env=env).stdout == ""  # nothing new
        # the operator registers keys of its own in bravo's name
        fake = Keyring.generate(b.id)
        ex = node.exchange()
        ex.store.write(lambda sql: ex.log.append(sql, member_entry(
            b.id, "add", fake.sign_key_id, fake.enc_key_id, clock.now())))
        ex.store.close()
        got = vigil("log", "watch", "--once", env=env, ok=False)
        assert got.returncode == 1 and "ALERT" in got.stderr and fake.sign_key_id in got.stderr
        follow = vigil("inbox", "--follow", "--after", "0", env={**env, "VIGIL_DATA": str(
            tmp_path / "bravo-2")}, ok=False)
        assert follow.returncode == 1 and "log.foreign_key" in follow.stderr
