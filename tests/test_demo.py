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
        # the bilateral AMBER share reached only the other side of ee-de
        assert [n for n, tlps in got.items() if "amber" in tlps] == ["ee-cert"]
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
