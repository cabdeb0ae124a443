"""The node-to-node routes (``vigil.web.federation``) over a real app: a batch signed by a
peer's node key and sent over HTTP is acknowledged; a request signed by a key that is no
peer's, with a body other than the one signed, or unsigned is refused; a malformed
heartbeat is refused; the node descriptor and the members' status are served; a node that
does not federate answers ``fed.off``. A peer's heartbeat, signed by its node key, is
recorded and tells this node's federation service that the peer is heard (its link, if
down, tries again at once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient
from tests.federation.pairs import Node, batch, make, network, peer, sync

from vigil.crypto.keys import generate_sign_key
from vigil.federation import codec
from vigil.federation.batches import heartbeat_body
from vigil.federation.descriptor import WELL_KNOWN
from vigil.federation.sender import Link, Service
from vigil.storage import federation as q
from vigil.web.app import create_app


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Node, Node]]:
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True})
    try:
        peer(a, b)
        yield a, b
    finally:
        a.close()
        b.close()


def post(
    client: TestClient,
    src: Node,
    dst: Node,
    path: str,
    body: bytes,
    key: object = None,
    signed_body: bytes | None = None,
) -> dict[str, object]:
    header = codec.sign_request(
        key or src.ex.node_key,
        "POST",
        path,  # type: ignore[arg-type]
        src.ex.node_id,
        dst.ex.node_id,
        body if signed_body is None else signed_body,
    )
    r = client.post(
        path, content=body, headers={codec.HEADER: header, "Content-Type": "application/json"}
    )
    return {"status": r.status_code, "json": r.json()}


def test_a_batch_over_http(pair: tuple[Node, Node]) -> None:
    a, b = pair
    sync(a, b)
    body = orjson.dumps(batch(a, b))
    app = create_app(b.node.settings, exchange=b.ex)
    with TestClient(app) as client:
        stranger = post(client, a, b, "/fed/v1/batch", body, key=generate_sign_key(False))
        assert stranger["status"] in (401, 403)
        changed = post(client, a, b, "/fed/v1/batch", body, signed_body=body + b" ")
        assert changed["status"] in (400, 401, 403)
        unsigned = client.post("/fed/v1/batch", content=body)
        assert unsigned.status_code in (400, 401, 403)
        ok = post(client, a, b, "/fed/v1/batch", body)
        assert ok["status"] == 200, ok
        ack = ok["json"]["ack"]  # type: ignore[index]
        assert (ack["origin"], ack["dest"]) == (a.ex.node_id, b.ex.node_id)  # of the batch
        assert ack["cursor"] == orjson.loads(body)["batch"]["to"]
        bad_beat = post(client, a, b, "/fed/v1/heartbeat", b'{"no": "heartbeat"}')
        assert bad_beat["status"] == 400
        assert bad_beat["json"]["error"]["code"] == "fed.bad_item"  # type: ignore[index]
        desc = client.get(WELL_KNOWN)
        assert desc.status_code == 200 and "descriptor" in desc.json()
        status = client.get(
            "/api/v1/federation/status",
            headers={"Authorization": f"Bearer {b.node.members['bravo'].token}"},
        )
        assert status.status_code == 200


def test_a_node_that_does_not_federate(tmp_path: Path) -> None:
    from vigil.testing import make_node

    node = make_node(tmp_path / "solo", {"alpha": True})
    app = create_app(node.settings)
    with TestClient(app) as client:
        r = client.post("/fed/v1/batch", content=b"{}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "fed.off")


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
