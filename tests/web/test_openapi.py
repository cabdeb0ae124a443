"""Every answer of a live node matches its OpenAPI document: schemathesis generates
requests for every operation of ``/api/openapi.json`` (valid and invalid, with a valid
member token, sometimes naming things that exist), and each answer must be below 500,
have a status the document lists for that operation (``4XX`` covers every 4xx) and, for
an error, vigil's error body (TAXII's under ``/taxii2/``). Bounded: a few examples per
operation and mode.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from tests.conftest import four_member_exchange

from vigil.taxii.media import TAXII
from vigil.testing import ServerProcess, stix

from .conftest import Api

EXAMPLES = int(os.environ.get("VIGIL_SCHEMATHESIS_EXAMPLES", "6"))
STREAMS = ("/api/v1/stream", "/api/v1/correlations/stream")  # endless by design


def _bundle() -> bytes:
    return stix.bundle(stix.indicator())


def test_a_repeated_recall_answers_a_documented_status(api: Api) -> None:
    """Found by the run below: a recall or receipt recorded before answers 200, which
    the document did not list."""
    sid = api.client.post("/api/v1/shares", params={"tlp": "green", "to": "a-b"},
                          content=_bundle(), headers=api.h("alpha")).json()["id"]
    doc = api.client.get("/api/openapi.json").json()["paths"]
    documented = doc["/api/v1/shares/{share_id}/recall"]["post"]["responses"]
    for expected in (201, 200):
        r = api.client.post(f"/api/v1/shares/{sid}/recall", headers=api.h("alpha"))
        assert r.status_code == expected, r.text
        assert str(expected) in documented
    assert "200" in doc["/api/v1/shares/{share_id}/receipts"]["post"]["responses"]


def _known(url: str, auth: dict[str, str], node: Any) -> dict[str, list[str]]:
    """Values of path parameters that name things that exist, for deeper requests."""
    c = httpx.Client(base_url=url, headers=auth, timeout=30)
    r = c.post("/api/v1/shares", params={"tlp": "green", "to": "a-b"}, content=_bundle(),
               headers={"content-type": "application/stix+json"})
    assert r.status_code == 201, r.text
    share = r.json()["id"]
    cols = c.get("/taxii2/api/collections/",
                 headers={"accept": "application/taxii+json;version=2.1"}).json()
    cids = [col["id"] for col in cols.get("collections", [])]
    objects = json.loads(_bundle())["objects"]
    return {"share_id": [share], "ref": ["a-b", "group1", "bravo"],
            "member_ref": [node.members["bravo"].id, "bravo"], "cid": cids or ["x"],
            "oid": [objects[0]["id"]], "name": ["none"], "sid": [str(uuid.uuid4())]}


def _problem(op: Any, status: int, body: bytes) -> str | None:
    documented = op.definition.raw.get("responses", {})
    if status >= 500:
        return f"server error {status}"
    if str(status) not in documented and f"{status // 100}XX" not in documented:
        return f"status {status} not documented ({sorted(documented)})"
    if status < 400:
        return None
    try:
        doc = json.loads(body)
    except ValueError:
        return f"error body is not JSON: {body[:80]!r}"
    if op.path.startswith("/taxii2"):
        ok = isinstance(doc, dict) and isinstance(doc.get("title"), str) \
            and doc.get("http_status") == str(status)
    else:
        err = doc.get("error") if isinstance(doc, dict) else None
        ok = isinstance(err, dict) and isinstance(err.get("code"), str) \
            and isinstance(err.get("message"), str)
    return None if ok else f"error body not in vigil's shape: {body[:120]!r}"


class _Run:
    """Requests to one live node; what they saw and the problems found."""

    def __init__(self, url: str, auth: dict[str, str], known: dict[str, list[str]]) -> None:
        self.url, self.auth, self.known = url, auth, known
        self.session = requests.Session()
        self.seen: collections.Counter[tuple[str, int]] = collections.Counter()
        self.problems: dict[tuple[str, str, str], str] = {}

    def exercise(self, op: Any, mode: Any) -> None:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  derandomize=bool(os.environ.get("CI")), suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(generation_mode=mode), real=st.booleans())
        def run(case: Any, real: bool) -> None:
            if real and case.path_parameters:
                for k in case.path_parameters:
                    if k in self.known:
                        case.path_parameters[k] = self.known[k][0]
            headers = dict(self.auth)
            if op.path.startswith("/taxii2"):
                headers["Accept"] = TAXII
            r = case.call(base_url=self.url, session=self.session, headers=headers, timeout=30)
            self.seen[(f"{op.method.upper()} {op.path}", r.status_code)] += 1
            why = _problem(op, r.status_code, r.content)
            if why:
                curl = case.as_curl_command(headers={"Authorization": "Bearer …"})
                self.problems.setdefault((op.method.upper(), op.path, why), curl[:600])

        with contextlib.suppress(Unsatisfiable):  # no invalid request of this kind exists
            run()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(tmp_path: Path) -> None:
    import schemathesis
    from schemathesis.generation.modes import GenerationMode

    node, ex = four_member_exchange(tmp_path / "node")
    ex.store.close()
    auth = {"Authorization": f"Bearer {node.members['alpha'].token}"}
    server = ServerProcess(node.data).start(timeout=90)
    try:
        run = _Run(server.url, auth, _known(server.url, auth, node))
        schema = schemathesis.openapi.from_url(server.url + "/api/openapi.json")
        operations = [r.ok() for r in schema.get_all_operations()]
        assert len(operations) > 40
        for op in operations:
            if op.path not in STREAMS:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    run.exercise(op, mode)
    finally:
        server.stop()
    assert sum(n for (_, s), n in run.seen.items() if s < 300) > 40  # not all refused
    assert not run.problems, "\n".join(f"{m} {p}: {why}\n    {curl}"
                                       for (m, p, why), curl in sorted(run.problems.items()))
