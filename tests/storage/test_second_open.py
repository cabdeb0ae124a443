"""Opening and closing a second store on a live SQLite database (an operator command
while `vigil serve` runs) leaves the live store's write-ahead log alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vigil.storage import open_store


def test_a_second_store_in_another_process_keeps_the_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vigil.db'}"
    live = open_store(url)
    live.migrate()
    again = open_store(url)  # a second store in the same process (the fd of its setup)
    again.close()
    live.set_meta("k", "v")
    code = ("import sys; from vigil.storage import open_store; "
            "s = open_store(sys.argv[1]); s.query('SELECT 1'); s.close()")
    subprocess.run([sys.executable, "-c", code, url], check=True)
    assert (tmp_path / "vigil.db-wal").exists()
    live.set_meta("k", "w")
    assert live.get_meta("k") == "w"
    live.close()
    assert open_store(url).get_meta("k") == "w"
