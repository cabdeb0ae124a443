"""The command line against a local data directory and a live server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.testing import ServerProcess
from vigil.testing.node import run_cli as vigil
from vigil.testing.stix import canary_bundle as bundle_with


@pytest.mark.slow
def test_cli_end_to_end(tmp_path: Path) -> None:
    data = str(tmp_path / "node")
    vigil("--data", data, "init", "--name", "cli node")
    assert (Path(data) / "node.key").stat().st_mode & 0o777 == 0o600
    out = vigil("--data", data, "member", "add", "ee-cert", "--country", "ee", "--kind", "cert",
                "--keyring", str(tmp_path / "ee.keyring")).stdout
    assert "identity--" in out
    assert (tmp_path / "ee.keyring").stat().st_mode & 0o777 == 0o600
    vigil("--data", data, "member", "add", "de-police", "--country", "DE", "--kind", "police")
    vigil("--data", data, "member", "add", "fr-agency", "--country", "FR", "--kind", "agency")
    listing = vigil("--data", data, "member", "list").stdout
    assert "de-police" in listing and "(keys held)" in listing
    tokens = {}
    for name in ("ee-cert", "de-police", "fr-agency"):
        lines = vigil("--data", data, "user", "add", name, "analyst",
                      "--scope", "admin").stdout.splitlines()
        tokens[name] = lines[-1].split()[-1]
    db = (Path(data) / "vigil.db").read_bytes()
    assert tokens["ee-cert"].encode() not in db  # stored hashed
    vigil("--data", data, "channel", "create", "ee-de", "--kind", "bilateral",
          "--member", "de-police", "--as", "ee-cert")
    with ServerProcess(Path(data)) as srv:
        ee = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": tokens["ee-cert"],
              "VIGIL_KEYRING": str(tmp_path / "ee.keyring")}
        de = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": tokens["de-police"]}
        fr = {"VIGIL_NODE": srv.url, "VIGIL_TOKEN": tokens["fr-agency"]}
        dry = vigil("publish", "-", "--tlp", "amber", "--to", "ee-de", "--dry-run",
                    env=ee, stdin=bundle_with("dry")).stdout
        assert "1 recipient(s)" in dry and "de-police" in dry
        pub = vigil("publish", "-", "--tlp", "amber", "--to", "ee-de", "--theme", "cyber",
                    "--no-onward", "--expires", "30d", env=ee,
                    stdin=bundle_with("CLI-SECRET")).stdout
        assert "sealed, originator" in pub
        sid = pub.split()[1]
        inbox = vigil("inbox", env=de).stdout
        assert sid in inbox and "TLP:AMBER" in inbox
        assert vigil("inbox", env=fr).stdout.strip() == ""
        show = vigil("show", sid, "--json", env=de).stdout
        assert "signed by ee-cert" in show and "verified" in show and "CLI-SECRET" in show
        assert "opened by  node" in show
        own = vigil("show", sid, "--json", env=ee).stdout
        assert "opened by  client" in own
        denied = vigil("show", sid, env=fr, ok=False)
        assert denied.returncode == 1
        assert denied.stderr.startswith("error [share.not_found]")
        assert "Traceback" not in denied.stderr
        bad = vigil("publish", "-", "--tlp", "amber", "--to", "ee-de", env=de,
                    stdin=b'{"type": "bundle", "type": "x"}', ok=False)
        assert "input.duplicate_key" in bad.stderr and "(at /type)" in bad.stderr
        chans = vigil("channel", "list", env=fr).stdout
        assert "ee-de" not in chans
        info = json.loads(vigil("channel", "show", "ee-de", env=de).stdout)
        assert [e["event"] for e in info["events"]] == ["create", "join", "join"]
        debug = vigil("--debug", "show", sid, env=fr, ok=False)
        assert "Traceback" in debug.stderr
