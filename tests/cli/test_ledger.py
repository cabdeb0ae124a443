"""`vigil sighting add|list`, `vigil ledger` (with the community rule, also in the publish
preview) and `vigil channel-key show|share`, run as commands against a live server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.analysis.nodes import bundle, feodo_ips

from vigil.client import Client
from vigil.model import ChannelKind
from vigil.testing import PASSPHRASE, ServerProcess, make_node


def vigil(*args: str, token: str, keyring: Path | None = None, node: str
          ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, VIGIL_KEYRING_PASSPHRASE=PASSPHRASE, VIGIL_TOKEN=token,
               VIGIL_NODE=node)
    if keyring is not None:
        env["VIGIL_KEYRING"] = str(keyring)
    p = subprocess.run([sys.executable, "-m", "vigil.cli", *args], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p



def test_the_command_line(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "delta": False,
                                          "echo": False})
    m = node.members
    ex = node.exchange()
    ex.create_channel(m["alpha"].id, "group1", ChannelKind.GROUP,
                      [m["bravo"].id, m["delta"].id])
    ex.store.close()
    body, (ind,) = bundle(feodo_ips(1, skip=25)[0])
    rule = {"VIGIL_LEDGER_DELAY_RATIO": "1.0", "VIGIL_LEDGER_DELAY_GRACE": "1"}
    with ServerProcess(node.data, env=rule) as srv:
        alpha = Client(srv.url, m["alpha"].token)
        sid = alpha.publish(body, tlp="amber", to=["group1"])["id"]
        out = vigil("sighting", "add", sid, ind, "--count", "2", "--disclose",
                    token=m["bravo"].token, node=srv.url).stdout
        assert "sighted x2" in out and "disclosed" in out
        vigil("sighting", "add", sid, ind, "--verdict", "false-positive",
              token=m["delta"].token, node=srv.url)
        listed = vigil("sighting", "list", sid, token=m["alpha"].token, node=srv.url).stdout
        assert f"{ind}  false-positive 1 report(s), count 1; sighted 1 report(s), count 2" \
            in listed
        assert "by bravo" in listed and "delta" not in listed
        table = vigil("ledger", token=m["bravo"].token, node=srv.url).stdout
        alpha_row = next(line for line in table.splitlines() if line.split()[:1] == ["alpha"])
        assert alpha_row.split()[1:] == ["1", "1", "0", "1", "1", "0", "0"]
        assert "channel group1 (group)" in table
        assert "community rule: TLP:AMBER community shares wait 24.0 h" in table
        # the community rule in the publish preview: bravo and delta received, gave none
        f = tmp_path / "b.json"
        f.write_bytes(body)
        dry = vigil("publish", str(f), "--tlp", "amber", "--dry-run", token=m["alpha"].token,
                    node=srv.url).stdout
        assert "community rule: held back until" in dry and "from bravo, delta" in dry
        dry = vigil("publish", str(f), "--tlp", "green", "--dry-run", token=m["alpha"].token,
                    node=srv.url).stdout
        assert "community rule" not in dry
        # channel keys: delta makes epoch 1 by publishing; echo joins; delta shares it
        dk = m["delta"].keyring_path
        delta = Client(srv.url, m["delta"].token, m["delta"].keyring)
        delta.publish(body, tlp="amber", to=["group1"])
        alpha.channel_add("group1", "echo")
        shown = vigil("channel-key", "show", "group1", token=m["delta"].token, keyring=dk,
                      node=srv.url).stdout
        assert "epoch 1, a copy sealed to you" in shown and "lacking a copy: echo" in shown
        shared = vigil("channel-key", "share", "group1", token=m["delta"].token, keyring=dk,
                       node=srv.url).stdout
        assert shared.strip() == "sealed to echo"
        echo = Client(srv.url, m["echo"].token, m["echo"].keyring)
        assert echo.channel_key("group1")[1] == 1
