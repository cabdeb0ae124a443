"""The examples of docs/sdk.md, run as written against a real node, so the document
cannot drift from the SDK."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import orjson

from vigil import testing
from vigil.client import Client
from vigil.model import ChannelKind

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), re.S)


def test_the_doc_has_examples() -> None:
    assert len(examples()) >= 7


def test_sdk_examples_run_against_a_node(tmp_path: Path) -> None:
    node = testing.make_node(tmp_path / "node", {"alpha": True, "delta": False})
    alpha, delta = node.members["alpha"], node.members["delta"]
    ex = node.exchange()
    ex.create_channel(alpha.id, "ops", ChannelKind.GROUP, [delta.id])
    ex.store.close()
    work = tmp_path / "work"
    work.mkdir()
    with testing.ServerProcess(node.data) as srv:
        share = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [{
            "type": "malware", "spec_version": "2.1", "id": f"malware--{uuid.uuid4()}",
            "created": "2024-06-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z",
            "name": "docs example", "is_family": True}]}
        with Client(srv.url, alpha.token) as c:  # something in delta's inbox
            assert c.publish(orjson.dumps(share), tlp="amber", to=["ops"])["form"] == "sealed"
        env = dict(os.environ, VIGIL_NODE=srv.url, VIGIL_TOKEN=delta.token,
                   VIGIL_KEYRING=str(delta.keyring_path),
                   VIGIL_KEYRING_PASSPHRASE=testing.PASSPHRASE)

        def run(code: str) -> str:
            res = subprocess.run([sys.executable, "-c", code], cwd=work, env=env,
                                 capture_output=True, text=True, timeout=60)
            assert res.returncode == 0, f"{code}\n---\n{res.stdout}{res.stderr}"
            return res.stdout

        connect, publish, inbox, get, stream, checks, errors = examples()[:7]
        assert f"member delta {delta.id}" in run(connect)
        out = run(publish)
        assert "payload sealed to ['alpha']" in out and "published share--" in out
        first = run(inbox)
        assert first.count("entry ") == 1 and "amber sealed" in first
        assert run(inbox).count("entry ") == 0  # resumed from the saved cursor
        out = run(get)
        assert "signed by alpha" in out and "opened by client ['malware']" in out
        assert "live " in run(stream)
        out = run(checks)  # delta's own key entry, proven; nothing foreign
        assert "member \n" in out and "FOREIGN" not in out and "watched up to" in out
        assert (work / "checkpoints.json").exists()
        out = run(errors)
        assert "not found: share.not_found 404" in out and "refused: stix." in out
