"""`vigil import misp` and `vigil export misp` against a running node: a report and a
proposed audience without --to, a share with it, the events back in files that PyMISP
loads; an event refused for a too-wide audience exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from pymisp import MISPEvent

from vigil.cli.main import cli
from vigil.errors import VigilError
from vigil.testing import ServerProcess, make_node

DATA = Path(__file__).resolve().parents[1] / "data" / "misp"
EVENT = DATA / "sighting_1.json"


def test_import_then_export_misp(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    run = CliRunner().invoke
    with ServerProcess(node.data) as srv:
        base = ["--data", str(node.data)]
        remote = ["--node", srv.url, "--token", node.members["alpha"].token]
        res = run(cli, [*base, "import", "misp", str(EVENT), *remote], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert "audience: every member (--to community)" in res.output
        assert "not published: confirm the audience with --to" in res.output
        res = run(cli, [*base, "import", "misp", str(EVENT), "--to", "community", *remote])
        assert isinstance(res.exception, VigilError)  # the event has no tlp: tag
        assert "misp.tlp_required" in res.output
        res = run(cli, [*base, "import", "misp", str(EVENT), "--to", "community", "--tlp",
                        "green", *remote], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert "published share--" in res.output and "TLP:GREEN" in res.output
        group = json.loads(EVENT.read_text("utf-8"))
        group["Event"]["distribution"] = "4"
        narrow = tmp_path / "narrow.json"
        narrow.write_text(json.dumps(group), "utf-8")
        res = run(cli, [*base, "import", "misp", str(narrow), "--to", "community", *remote])
        assert isinstance(res.exception, VigilError) and res.exception.code == "misp.refused"
        assert "misp.audience_wider" in res.output
        out = tmp_path / "out"
        res = run(cli, [*base, "export", "misp", "--out", str(out), "--node", srv.url,
                        "--token", node.members["bravo"].token], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        # free text: a report per line, then what was found published on --to
        paste = tmp_path / "paste.txt"
        paste.write_text("hxxp://evil[.]example/a dropper\nnothing to see\n", "utf-8")
        res = run(cli, [*base, "import", "text", str(paste), *remote], catch_exceptions=False)
        assert "line 1: url http://evil.example/a" in res.output
        assert "line 2: skipped" in res.output and "published share" not in res.output
        res = run(cli, [*base, "import", "text", str(paste), "--to", "community", "--tlp",
                        "green", *remote], catch_exceptions=False)
        assert res.exit_code == 0 and "published share--" in res.output, res.output
    files = sorted(out.glob("*.json"))
    assert len(files) == 1
    ev = MISPEvent()
    ev.load_file(str(files[0]))
    want = json.loads(EVENT.read_text("utf-8"))["Event"]
    assert {a.value for a in ev.attributes} == {a["value"] for a in want["Attribute"]}
