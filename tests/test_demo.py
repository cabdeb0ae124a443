"""`vigil demo` builds a node whose shares reach exactly the members the policy names."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.demo import MEMBERS, report, setup_demo
from vigil.errors import Conflict


def test_demo_node_delivers_by_policy(tmp_path: Path) -> None:
    ex, tokens = setup_demo(tmp_path / "demo")
    try:
        d = ex.directory()
        assert len(d.members) == len(MEMBERS) >= 5
        assert {m.kind.value for m in d.members.values()} >= {"agency", "cert", "police",
                                                             "regional-org"}
        assert set(tokens) == {m[0] for m in MEMBERS}
        by_name = {m.name: m.id for m in d.members.values()}
        got = {name: {env.header["audience"]["tlp"] for _, env, _ in
                      ex.inbox_page(mid, 0, 100)[0]} for name, mid in by_name.items()}
        # the RED share went to the one named member only
        assert [n for n, tlps in got.items() if "red" in tlps] == ["au-ctc"]
        # the AMBER shares reached only the other side of ee-de and africa-ct's member
        assert [n for n, tlps in got.items() if "amber" in tlps] == ["ee-cert", "ke-agency"]
        # the counter-terrorism and organised-crime scenarios: evaluated, with a legal
        # basis, personal data declared, a consent request each, two matching indexes
        intel = [env.header for mid in by_name.values()
                 for _, env, _ in ex.inbox_page(mid, 0, 100)[0]
                 if any(t.startswith(("terrorism/", "organised-crime/drug"))
                        for t in env.header["themes"])]
        assert len(intel) == 2
        assert all(h["evaluation"] and h["legal"]["personal_data"] for h in intel)
        assert {h["legal"]["basis"] for h in intel} == {"un-sc-2396", "eu-2016/794"}
        pending = ex.store.query("SELECT what FROM consent_requests WHERE state=?",
                                 ("pending",))
        assert sorted(r[0] for r in pending) == ["court", "forward"]
        assert ex.store.query("SELECT COUNT(DISTINCT member_id) FROM match_index")[0][0] == 2
        # community GREEN reached everyone but their originators
        assert all("green" in tlps for tlps in got.values())
        for mid in by_name.values():
            for _, env, _ in ex.inbox_page(mid, 0, 100)[0]:
                assert ex.open(mid, env) is not None  # the demo node holds every keyring
        lines = report(ex)
        assert any("received" in line for line in lines)
    finally:
        ex.store.close()
    again, _ = setup_demo(tmp_path / "demo")  # --fresh rebuilds a demo directory
    again.store.close()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("not a demo")
    with pytest.raises(Conflict):
        setup_demo(tmp_path / "other")
