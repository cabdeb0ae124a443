"""End to end against a real server on a loopback port (SQLite + in-process bus)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from tests.conftest import first_event

from vigil.client import Client
from vigil.errors import NotFound
from vigil.testing import ServerProcess, make_node
from vigil.testing.node import scan
from vigil.testing.stix import canary_bundle


@pytest.mark.slow
async def test_bilateral_share_reaches_b_only_and_node_stays_blind(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": False, "bravo": False, "charlie": False})
    a, b, c = (node.members[n] for n in ("alpha", "bravo", "charlie"))
    ex = node.exchange()
    from vigil.model import ChannelKind

    ex.create_channel(a.id, "a-b", ChannelKind.BILATERAL, [b.id])
    ex.store.close()
    server_tmp = tmp_path / "server-tmp"
    server_tmp.mkdir()
    canary = f"CANARY-{uuid.uuid4().hex}"
    canary2 = f"CANARY2-{uuid.uuid4().hex}"
    with ServerProcess(node.data, env={"TMPDIR": str(server_tmp)}) as srv:
        ca = Client(srv.url, a.token, a.keyring)
        cb = Client(srv.url, b.token, b.keyring)
        cc = Client(srv.url, c.token, c.keyring)
        b_task = asyncio.create_task(first_event(cb, 5.0))
        c_task = asyncio.create_task(first_event(cc, 3.0))
        await asyncio.sleep(0.5)  # both streams connected
        res = await asyncio.to_thread(ca.publish, canary_bundle(canary), tlp="amber", to=["a-b"])
        assert res["form"] == "sealed"
        assert res["recipients"] == [b.id]
        got = await b_task
        assert got is not None, "B's stream received nothing"
        assert got.share_id == res["id"]
        share = await asyncio.to_thread(cb.get, res["id"])
        assert share.opened_by == "client"
        assert share.bundle is not None and canary.encode() in share.bundle
        assert share.signer.startswith("signed by alpha")
        assert await c_task is None, "C's stream received a share it may not see"
        assert list(cc.inbox()) == []
        with pytest.raises(NotFound):
            cc.get(res["id"])
        with pytest.raises(NotFound):
            cc.envelope(res["id"])
        # A share posted without client keys: attested and sealed by the node.
        plain_a = Client(srv.url, a.token)
        res2 = plain_a.publish(canary_bundle(canary2), tlp="amber", to=["a-b"])
        assert res2["provenance"] == "attested" and res2["form"] == "sealed"
        s2 = cb.get(res2["id"])
        assert s2.bundle is not None and canary2.encode() in s2.bundle
        assert "attested by node" in s2.signer
        with pytest.raises(NotFound):
            cc.get(res2["id"])
        for cl in (ca, cb, cc, plain_a):
            cl.close()
    leaks = scan([node.data, server_tmp, srv.log], canary.encode())
    leaks += scan([node.data, server_tmp, srv.log], canary2.encode())
    assert leaks == []
    assert any(p.name.endswith("-wal") or p.name == "vigil.db" for p in node.data.iterdir())


@pytest.mark.slow
def test_acknowledged_share_survives_kill_9(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "bravo": True})
    a, b = node.members["alpha"], node.members["bravo"]
    srv = ServerProcess(node.data).start()
    ids = []
    try:
        with Client(srv.url, a.token) as ca:
            for i in range(5):
                ids.append(ca.publish(canary_bundle(f"k{i}"), tlp="amber",
                                      to=["member:bravo"])["id"])
    finally:
        srv.kill()  # SIGKILL right after the last 2xx
    with ServerProcess(node.data) as srv2, Client(srv2.url, b.token) as cb:
        got = [item.share_id for item in cb.inbox()]
        assert got == ids
        share = cb.get(ids[-1])
        assert share.opened_by == "node" and share.bundle is not None


