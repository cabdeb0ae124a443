"""The node-to-node routes: a peer's heartbeat, signed by its node key, is recorded and
tells this node's federation service that the peer is heard (its link, if down, tries
again at once)."""

from __future__ import annotations

from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from tests.federation.pairs import network

from vigil.federation import codec
from vigil.federation.sender import Link, Service, heartbeat_body
from vigil.storage import federation as q
from vigil.web.app import create_app

PATH = "/fed/v1/heartbeat"


def test_a_heartbeat_wakes_the_link_to_its_sender_when_down(tmp_path: Path) -> None:
    with network(tmp_path, {"athens": {"alpha": True}, "berlin": {"bravo": True}}) as (a, b):
        app = create_app(a.node.settings, exchange=a.ex)
        with TestClient(app) as client:
            svc: Service = app.state.federation
            node = b.ex.node_id

            async def take_over() -> Link:
                """A link to berlin that is down and not running (the service's own,
                which tries berlin.invalid, stopped): nothing else sets or clears its
                wake."""
                old = svc.links.get(node)
                link = svc.links[node] = Link(svc, a.peers["berlin"])
                link.state = "down"
                if old is not None:
                    await old.stop()
                return link

            link = client.portal.call(take_over)
            assert not link.wake.is_set()
            body = orjson.dumps(heartbeat_body(b.ex, a.ex.node_id, 0, 0))
            header = codec.sign_request(b.ex.node_key, "POST", PATH, node, a.ex.node_id,
                                        body)
            r = client.post(PATH, content=body, headers={
                codec.HEADER: header, "content-type": "application/json"})
            assert r.status_code == 200, r.text
            assert r.json()["head"] == 0
            assert link.wake.is_set()  # heard: the down link tries again now
            beat = a.ex.store.read(lambda sql: q.cursor(sql, node))[3]
            assert beat is not None  # and the heartbeat is recorded
