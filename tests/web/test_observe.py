"""Request ids: echoed or made, and on every log line of the request."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from tests.web.conftest import Api

from vigil import logs


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    h = logs.handler(buf)
    root = logging.getLogger()
    old = root.level
    root.addHandler(h)
    root.setLevel(logging.INFO)
    yield buf
    root.removeHandler(h)
    root.setLevel(old)


def test_request_id_is_echoed_or_made_and_logged(api: Api, log_lines: io.StringIO) -> None:
    r = api.client.get("/api/v1/me", headers={**api.h("alpha"), "X-Request-Id": "abc-123"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "abc-123"
    made = api.client.get("/api/v1/me", headers=api.h("alpha")).headers["x-request-id"]
    assert len(made) == 32 and made != "abc-123"
    # an id that could forge log lines or flood them is replaced
    for bad in ("a\nb", "x" * 65, "a b", "<script>"):
        got = api.client.get("/healthz", headers={"X-Request-Id": bad}).headers["x-request-id"]
        assert got != bad and len(got) == 32
    records = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    access = [x for x in records if x["logger"] == "vigil.access"]
    assert {"request_id": "abc-123", "route": "/api/v1/me", "status": 200,
            "method": "GET"}.items() <= access[0].items()
    assert access[1]["request_id"] == made
    assert api.node.members["alpha"].token not in log_lines.getvalue()
