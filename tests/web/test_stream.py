"""The push stream (``vigil.web.stream``) from a served node: a member's stream sends the
shares it may read from its cursor, resumes after ``Last-Event-ID`` or ``after``, sends no
share of another's, and refuses a bad cursor and a bad credential before it opens."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from vigil.testing import ServerProcess, make_node
from vigil.testing.stix import ioc_bundle


def shares(url: str, token: str, **extra: str) -> list[tuple[str, str]]:
    """(event id, share id) of what the stream sends up to its first keep-alive."""
    headers = {"Authorization": f"Bearer {token}"}
    params = {}
    if "last_event_id" in extra:
        headers["Last-Event-ID"] = extra["last_event_id"]
    if "after" in extra:
        params["after"] = extra["after"]
    seen: list[tuple[str, str]] = []
    event_id = ""
    with httpx.stream(
        "GET", url + "/api/v1/stream", headers=headers, params=params, timeout=20
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                seen.append((event_id, str(orjson.loads(line[5:])["share_id"])))
            elif line.startswith(": keep-alive"):
                return seen
    return seen


def test_a_member_s_stream(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True, "charlie": True})
    m = node.members
    with ServerProcess(node.data, env={"VIGIL_KEEPALIVE": "0.5"}) as srv:
        alpha = {"Authorization": f"Bearer {m['alpha'].token}"}
        sent = []
        for i, params in enumerate(
            ({"tlp": "green"}, {"tlp": "amber", "to": "member:bravo"}, {"tlp": "green"})
        ):
            r = httpx.post(
                f"{srv.url}/api/v1/shares",
                params=params,
                content=ioc_bundle(f"45.0.0.{i + 1}"),
                headers=alpha,
            )
            assert r.status_code == 201, r.text
            sent.append(r.json()["id"])
        bravo = shares(srv.url, m["bravo"].token)
        assert [s for _, s in bravo] == sent
        assert [s for _, s in shares(srv.url, m["charlie"].token)] == [sent[0], sent[2]]
        first = bravo[0][0]
        assert [s for _, s in shares(srv.url, m["bravo"].token, last_event_id=first)] == sent[1:]
        assert [s for _, s in shares(srv.url, m["bravo"].token, after=bravo[1][0])] == sent[2:]
        bad = httpx.get(
            f"{srv.url}/api/v1/stream",
            params={"after": "-1"},
            headers={"Authorization": f"Bearer {m['bravo'].token}"},
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["pointer"] in ("after", "/after")
        nobody = httpx.get(f"{srv.url}/api/v1/stream", headers={"Authorization": "Bearer x"})
        assert nobody.status_code == 401
