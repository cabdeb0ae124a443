"""Progress bars: drawn on a terminal, silent otherwise (also through the CLI)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from tests.conftest import four_member_exchange

from vigil.progress import bar
from vigil.testing.node import run_cli as vigil


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_draws_on_a_terminal_only() -> None:
    quiet = io.StringIO()
    with bar("pulling", stream=quiet) as b:
        b.update(3, 10, "three")
    assert quiet.getvalue() == "" and not b.shown
    tty = Tty()
    with bar("pulling", stream=tty) as b:
        b.update(3, 10, "three")
    assert b.shown
    assert "pulling" in tty.getvalue() and "3/10" in tty.getvalue()


def test_correlate_rebuild_prints_only_its_result_when_piped(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    ex.store.close()
    done = vigil("--data", str(node.data), "correlate", "--rebuild")
    assert done.stderr == ""
    assert "shares" in json.loads(done.stdout)
