"""The federation trust routes (``vigil.web.trust``) on a federating node's app: the trust
status for a member, a member's key directory lookup, a directory entry body refused with a
stable code, a share's witnessing for the members that may read it only, and the node's log
proofs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tests.federation.pairs import Node, make, publish

from vigil.web.app import create_app


@pytest.fixture
def athens(tmp_path: Path) -> Iterator[Node]:
    n = make(tmp_path, "athens", {"alpha": True, "bravo": True, "charlie": True})
    try:
        yield n
    finally:
        n.close()


def h(n: Node, member: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {n.node.members[member].token}"}


def test_trust_routes(athens: Node) -> None:
    sid = publish(athens, "alpha", ["member:bravo"])
    with TestClient(create_app(athens.node.settings, exchange=athens.ex)) as client:
        status = client.get("/api/v1/federation/trust", headers=h(athens, "alpha"))
        assert status.status_code == 200, status.text
        mine = client.get(
            f"/api/v1/directory/lookup/{athens.id('alpha')}", headers=h(athens, "bravo")
        )
        # no entry of alpha's keys in the node's key directory yet
        assert (mine.status_code, mine.json()["error"]["code"]) == (404, "dir.unknown_member")
        assert status.json()["alarms"] == []
        for body in (b"[]", b"{", b'{"entry": 1}'):
            r = client.post(
                "/api/v1/directory/entries",
                content=body,
                headers={**h(athens, "alpha"), "Content-Type": "application/json"},
            )
            assert r.status_code == 400, body
            assert r.json()["error"]["code"] == "dir.bad_entry"
        seen = client.get(f"/api/v1/federation/witnessed/{sid}", headers=h(athens, "bravo"))
        assert seen.status_code == 200 and seen.json()["share"] == sid
        hidden = client.get(f"/api/v1/federation/witnessed/{sid}", headers=h(athens, "charlie"))
        missing = client.get(
            "/api/v1/federation/witnessed/share--00000000-0000-4000-8000-000000000000",
            headers=h(athens, "charlie"),
        )
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"]["code"] == missing.json()["error"]["code"]
