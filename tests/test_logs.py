"""JSON log lines, and the filter that keeps tokens and keys out of them."""

from __future__ import annotations

import io
import json
import logging

from vigil import logs


def test_json_lines_with_secrets_blanked() -> None:
    buf = io.StringIO()
    log = logging.getLogger("vigil.test.logs")
    log.propagate = False
    log.addHandler(logs.handler(buf))
    log.setLevel(logging.INFO)
    token = "vgl_" + "Q" * 43
    pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA\n-----END PRIVATE KEY-----"
    log.info("header was Authorization: Bearer %s", "sk.live-123")
    log.warning("user %s sent %s", token, pem)
    try:
        raise ValueError(f"bad token {token}")
    except ValueError:
        log.exception("failed")
    out = buf.getvalue()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [x["level"] for x in lines] == ["info", "warning", "error"]
    assert lines[0]["message"] == "header was Authorization: [redacted]"
    assert token not in out and "sk.live-123" not in out and "MC4CAQ" not in out
    assert "ValueError" in lines[2]["error"] and lines[2]["time"].endswith("Z")
