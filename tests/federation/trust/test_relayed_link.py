"""The live link through a relay: athens and berlin do not reach each other (each holds
an address for the other that answers nothing), both peer with rome, and add each other
``via`` rome. Members are announced, witnessed and shares delivered through rome, a
separate ``vigil serve`` process whose every file -- database, WAL, log, temp -- and
metrics are then scanned: no share id, no canary, no member id in what it logged, kept of
the hops or told its scraper, and every hop a padded bucket."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest
from tests.federation.nodes import FedNode, knows, make_fed_node, running, wait_for

from vigil.client import Client
from vigil.config import load_settings
from vigil.errors import VigilError
from vigil.features import open_exchange
from vigil.federation import codec, peers
from vigil.node.exchange import Exchange
from vigil.relay.hop import HEADER as HOP_HEADER
from vigil.relay.hop import MIN_BUCKET, Hop, seal_hop
from vigil.relay.tunnel import seal_request
from vigil.testing import ServerProcess, free_port, make_node
from vigil.testing.stix import canary_bundle

SHARES = 40
SCRAPE = uuid.uuid4().hex  # rome's metrics token
NOWHERE = "http://127.0.0.1:9/fed/v1"  # the discard port: nothing answers


def _pin(url: str) -> str:
    return str(peers.fetch_descriptor(url)["descriptor"]["pin"])


def _cut(node: FedNode, other: str) -> None:
    """``node`` keeps an address for ``other`` that reaches nothing."""
    def run(sql: object) -> None:
        sql.execute("UPDATE fed_peers SET url=? WHERE node_id=?",  # type: ignore[attr-defined]
                    (NOWHERE, other))
    ex = node.exchange()
    ex.store.write(run)


def _hops(db: Path) -> list[tuple[str, str, int, str]]:
    con = sqlite3.connect(db)
    try:
        return [(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in
                con.execute("SELECT hop_id, dest, bucket, at FROM relay_hops")]
    finally:
        con.close()


async def test_shares_cross_a_relay_that_learns_nothing(tmp_path: Path) -> None:
    a = make_fed_node(tmp_path, "athens", {"alpha": True})
    b = make_fed_node(tmp_path, "berlin", {"bravo": True})
    rdata = tmp_path / "rome"
    make_node(rdata, {"romeo": True}, hybrid=False)
    (rdata / "tmp").mkdir()
    port = free_port()
    r = ServerProcess(rdata, port=port, log=rdata / "server.log", env={
        "VIGIL_FED_NAME": "rome", "VIGIL_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "VIGIL_FED_HEARTBEAT": "0.2", "VIGIL_LOG_LEVEL": "debug",
        "TMPDIR": str(rdata / "tmp"), "VIGIL_METRICS_TOKEN": SCRAPE})
    with running([a, b]), r:
        pin_a, pin_b, pin_r = _pin(a.url), _pin(b.url), _pin(r.url)
        rex = make_rome_exchange(rdata)
        try:
            peers.add(rex, a.url, pin_a)
            peers.add(rex, b.url, pin_b)
        finally:
            rex.store.close()
        ex_a, ex_b = a.exchange(), b.exchange()
        peers.add(ex_a, r.url, pin_r)
        peers.add(ex_b, r.url, pin_r)
        to_b = peers.add_via(ex_a, "rome", pin_b)
        to_a = peers.add_via(ex_b, "rome", pin_a)
        assert to_b.via == to_a.via == peers.peer(ex_a.store, "rome").node
        with pytest.raises(VigilError) as relayed:  # a relay is a peer reached directly
            peers.add_via(ex_a, "berlin", pin_b)
        assert relayed.value.code == "relay.no_route"
        _cut(a, to_b.node)
        _cut(b, to_a.node)

        await asyncio.to_thread(wait_for, knows(b, "alpha@athens"), 60.0)
        await asyncio.to_thread(wait_for, knows(a, "bravo@berlin"), 60.0)
        ca = Client(a.url, a.node.members["alpha"].token)
        cb = Client(b.url, b.node.members["bravo"].token)
        canaries, ids = [], []
        for i in range(SHARES):
            canary = f"CANARY{uuid.uuid4().hex}"
            canaries.append(canary)
            res = await asyncio.to_thread(ca.publish, canary_bundle(canary),
                                          tlp="green" if i % 2 else "amber",
                                          to=["member:bravo@berlin"])
            ids.append(res["id"])

        def delivered() -> bool:
            return all(ex_b.store.get_share(s) is not None for s in ids)
        await asyncio.to_thread(wait_for, delivered, 60.0)
        got = await asyncio.to_thread(cb.get, ids[1])
        assert got.bundle is not None and canaries[1].encode() in got.bundle

        def acked() -> bool:  # berlin's acks come back in its batches of answers
            link = {p["peer"]: p for p in a.status()["peers"]}["berlin"]
            return bool(link["sent"]["acked"] == link["sent"]["head"] > 0)
        await asyncio.to_thread(wait_for, acked, 60.0)
        members = [a.member_id("alpha"), b.member_id("bravo")]
        ca.close()
        cb.close()

        # what rome refuses: a node it does not reach, a hop that does not open at its
        # destination, a hop id seen before, a caller that is not its peer
        def post(hop: Hop, signed: bool = True) -> httpx.Response:
            url = httpx.URL(r.url + "/fed/v1/relay")
            headers = {HOP_HEADER: hop.header_value()}
            if signed:
                headers[codec.HEADER] = codec.sign_request(
                    ex_a.node_key, "POST", url.raw_path.decode(), ex_a.node_id, to_b.via or "",
                    hop.blob)
            return httpx.post(url, content=hop.blob, headers=headers, timeout=10)

        def relay(hop: Hop, signed: bool = True) -> tuple[int, str]:
            got = post(hop, signed)
            return got.status_code, got.json()["error"]["code"]
        # a hop berlin takes: rome's answer holds nothing of berlin's (which comes back
        # later, in berlin's next batch of answers), so rome cannot pair the two by the
        # connection or by the time berlin took
        taken, _ = seal_request(ex_a.node_id, to_b.node, to_b.hop_key, "GET",
                                "/fed/v1/outbox?after=0", {}, b"")
        answered = post(taken)
        assert (answered.status_code, answered.content) == (202, b"")
        assert relay(seal_hop(b"x", f"node--{uuid.uuid4()}", to_b.hop_key)) == (
            403, "relay.no_route")
        garbage = seal_hop(b"x", to_b.node, to_a.hop_key)  # not sealed to berlin's key
        assert relay(garbage) == (422, "relay.bad_hop")
        assert relay(garbage) == (422, "relay.bad_hop")  # seen before: not forwarded
        assert relay(seal_hop(b"x", to_b.node, to_b.hop_key), signed=False)[0] == 401
        for path in ("/api/v1/members", "/fed/v1/../api/v1/members", "/fed/v1/hop"):
            outside, _ = seal_request(ex_a.node_id, to_b.node, to_b.hop_key, "GET", path, {},
                                      b"")  # berlin serves its node routes only
            assert relay(outside) == (422, "relay.bad_hop"), path
        # what rome tells a scraper of its metrics
        scraped = httpx.get(r.url + "/metrics", headers={"Authorization": f"Bearer {SCRAPE}"},
                            timeout=10)
        assert scraped.status_code == 200 and b"vigil_" in scraped.content
    # rome stopped: what it kept and wrote
    hops = _hops(rdata / "vigil.db")
    assert hops and {h[1] for h in hops} == {to_a.node, to_b.node}
    assert all(h[2] >= MIN_BUCKET and h[2] & (h[2] - 1) == 0 for h in hops)
    files = [p for p in rdata.rglob("*") if p.is_file()]
    assert (rdata / "server.log").stat().st_size > 0
    everything = b"".join(p.read_bytes() for p in files) + scraped.content
    assert [s for s in ids + canaries if s.encode() in everything] == []
    logged = (rdata / "server.log").read_bytes() + repr(hops).encode() + scraped.content
    assert [m for m in members if m.encode() in logged] == []
    assert b"relay: hop for" in logged  # the relay logged its hops: destination and size


def make_rome_exchange(rdata: Path) -> Exchange:
    return open_exchange(load_settings(rdata, fed_name="rome"))
