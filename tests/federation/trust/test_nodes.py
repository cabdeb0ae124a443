"""Federation trust between real nodes on loopback ports: every peer witnesses every
other over HTTP (C2SP add-checkpoint), a split view is found and its evidence spread by
heartbeats and items of the forking node refused, and a lookup of another node's
member carries k cosignatures."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.federation.nodes import FedNode, knows, make_fed_node, peer_all, running, wait_for

from vigil.cli import main as cli_mod
from vigil.client import Client
from vigil.crypto.keys import generate_sign_key, sign_public_raw
from vigil.directory.entries import next_entry, sign_entry
from vigil.directory.lookup import verify_lookup
from vigil.directory.monitor import OwnerMonitor
from vigil.errors import CryptoError, VigilError
from vigil.log.checkpoint import parse_checkpoint
from vigil.log.tree import StoredLog
from vigil.protocol.cosignature import cosigners
from vigil.storage import federation as fed_q
from vigil.storage import open_store
from vigil.testing.stix import canary_bundle as bundle_with
from vigil.trust_client import TrustingClient
from vigil.web.auth import SESSION_COOKIE, sessions
from vigil.witness.wire import format_request


@pytest.fixture
def three(tmp_path: Path) -> list[FedNode]:
    return [make_fed_node(tmp_path, "athens", {"alpha": True}),
            make_fed_node(tmp_path, "berlin", {"bravo": True}),
            make_fed_node(tmp_path, "cairo", {"charlie": True})]


def trust(node: FedNode) -> Any:
    return node.server.app.state.trust


def witnessed(node: FedNode) -> bool:
    st = trust(node).status()
    return all(v["witnessed"] == v["size"] for v in st["logs"].values()) and \
        any(v["size"] > 0 for v in st["logs"].values())


async def test_split_view_found_spread_and_refused(three: list[FedNode],
                                                   tmp_path: Path) -> None:
    a, b, c = three
    with running(three):
        peer_all(three)
        await asyncio.to_thread(wait_for, knows(a, "charlie@cairo"))
        await asyncio.to_thread(wait_for, lambda: witnessed(c))
        # what berlin holds of cairo's log, as cairo's witness
        origin = c.server.app.state.vigil.exchange.log.origin
        await asyncio.to_thread(wait_for, lambda: origin in trust(b).witness.holds())
        ex_c = c.server.app.state.vigil.exchange
        twin_store = open_store(f"sqlite:///{tmp_path / 'twin.db'}")
        twin = StoredLog(twin_store, ex_c.node_id, ex_c.node_key)

        def show_berlin_another_history() -> tuple[str, str] | None:
            # cairo, rogue, shows berlin another history of the size berlin holds
            held = trust(b).witness.holds()[origin]
            size = parse_checkpoint(held)[0].size
            while twin.size() < size:
                twin_store.write(lambda sql: twin.append(sql, {"v": 1, "kind": "x",
                                                               "n": str(uuid.uuid4())}))
            other = twin.checkpoint(size)[1]
            r = httpx.post(b.url + "/fed/v1/witness/add-checkpoint",
                           content=format_request(size, [], other), timeout=5)
            assert r.status_code == 409
            return None if "tlog.size" in r.headers["content-type"] else (held, other)
        held, other = await asyncio.to_thread(wait_for, show_berlin_another_history)
        assert trust(b).alarms.refuses(ex_c.node_id)
        # berlin's next heartbeat brings the evidence to athens, which checks it itself
        await asyncio.to_thread(wait_for, lambda: trust(a).alarms.refuses(ex_c.node_id))
        [ev] = trust(a).alarms.evidence(origin)
        assert sorted(ev["notes"]) == sorted([held, other])
        # members see it: the trust status and the alarm stream
        r = httpx.get(a.url + "/api/v1/federation/trust", headers=a.auth(), timeout=5)
        assert [x["node"] for x in r.json()["alarms"]] == [ex_c.node_id]
        with httpx.stream("GET", a.url + "/api/v1/federation/alarms/stream",
                          headers=a.auth(), timeout=5) as s:
            for line in s.iter_lines():
                if line.startswith("event:"):
                    assert line == "event: fork"
                    break
        # the console shows the banner on every page
        ex_view = a.server.app.state.vigil.exchange
        sid = sessions(ex_view).create(a.node.members["alpha"].token).id
        page = httpx.get(a.url + "/", cookies={SESSION_COOKIE: sid}, timeout=5)
        assert page.status_code == 200 and "Fork alarm" in page.text
        assert ex_c.node_id in page.text
        # and new items from cairo are refused at athens
        cc = Client(c.url, c.node.members["charlie"].token)
        res = await asyncio.to_thread(cc.publish, bundle_with("after the fork"), tlp="amber",
                                      to=["member:alpha@athens"])

        def refused() -> bool:
            link = {p["peer"]: p for p in a.status()["peers"]}["cairo"]
            return any(q.get("code") == "fed.fork_alarm" for q in link["quarantined"])
        await asyncio.to_thread(wait_for, refused)
        assert a.exchange().store.get_share(res["id"]) is None
        twin_store.close()
    # the operator reads the alarm and its evidence, then decides
    args = ["--data", str(a.node.data), "peer"]
    run = CliRunner().invoke(cli_mod.cli, [*args, "status"], catch_exceptions=False)
    assert "FORK ALARM (open)" in run.output
    run = CliRunner().invoke(cli_mod.cli, [*args, "alarms"], catch_exceptions=False)
    assert ex_c.node_id in run.output and "OPEN" in run.output and origin in run.output
    run = CliRunner().invoke(cli_mod.cli, [*args, "decide", ex_c.node_id, "expel", "--reason",
                                           "split view", "--operator", "duty officer"],
                             catch_exceptions=False)
    assert run.exit_code == 0 and "expel" in run.output


async def test_lookup_of_a_remote_member_carries_k_cosignatures(three: list[FedNode]) -> None:
    a, b, _ = three
    with running(three):
        peer_all(three)
        alpha = a.node.members["alpha"]
        ta = trust(a)
        # athens holds alpha's keyring: it registered alpha's keys, signed by alpha's key
        [(_, registered)] = await asyncio.to_thread(
            wait_for, lambda: ta.directory.member_entries(alpha.id))
        entry = registered.entry
        url = a.url + "/fed/v1/directory/lookup"
        tb = trust(b)
        await asyncio.to_thread(wait_for, lambda: len(ta.refresh_peers()) == 2 == len(
            tb.refresh_peers()))

        def answered() -> Any:
            r = httpx.get(url, params={"member": alpha.id}, timeout=5)
            return r.json() if r.status_code == 200 else None
        answer = await asyncio.to_thread(wait_for, answered)
        keys = verify_lookup(answer, ta.ex.node_id, ta.ex.node_key_raw, tb.witnesses(),
                             tb.k())
        assert keys.sign_key == alpha.keyring.sign_public
        assert tb.k() == 1
        assert len(cosigners(answer["checkpoint"], tb.witnesses())) >= tb.k()
        r = httpx.get(url, params={"member": f"identity--{uuid.uuid4()}"}, timeout=5)
        assert r.status_code == 404
        # the SDK takes the keys the same way
        got = TrustingClient.lookup(a.url, ta.ex.node_id, ta.ex.node_key_raw, alpha.id,
                                    tb.witnesses(), tb.k())
        assert got.sign_key == alpha.keyring.sign_public
        # alpha's own monitor: quiet for its registration, alarmed by a rogue key
        monitor = OwnerMonitor(alpha.id, ta.ex.node_id, ta.ex.node_key_raw, ta.witnesses(),
                               ta.k())
        monitor.signed(entry)
        assert TrustingClient.monitor(a.url, monitor) == []
        assert monitor.tree.size == 1
        # alpha rotates its own key through its client, signed by the old key
        new_key = generate_sign_key(False)
        ca = TrustingClient(a.url, alpha.token)
        rotation = next_entry(ta.directory.keys(alpha.id), "rotate", alpha.id,
                              ta.ex.node_id, sign_key=new_key)
        assert ca.submit_entry(rotation, alpha.keyring.sign_private, monitor) == 1
        with pytest.raises(VigilError) as bad:  # not signed by the current key
            ca.submit_entry(next_entry(ta.directory.keys(alpha.id), "rotate", alpha.id,
                                       ta.ex.node_id, sign_key=generate_sign_key(False)),
                            alpha.keyring.sign_private)
        assert bad.value.code == "dir.bad_entry"
        got = await asyncio.to_thread(wait_for, lambda: (lambda k: k if k.sign_key == (
            sign_public_raw(new_key)) else None)(TrustingClient.lookup(
                a.url, ta.ex.node_id, ta.ex.node_key_raw, alpha.id, tb.witnesses(), tb.k())))
        assert got.sign_key_id is not None
        assert await asyncio.to_thread(
            wait_for, lambda: monitor.tree.size == 2 or TrustingClient.monitor(a.url, monitor)
            or monitor.tree.size == 2) is True
        assert monitor.alarms == []
        rogue_key = generate_sign_key(False)
        rogue = next_entry(ta.directory.keys(alpha.id), "rotate", alpha.id, ta.ex.node_id,
                           sign_key=rogue_key)
        ta.directory.append_unchecked(sign_entry(rogue, rogue_key, ta.ex.node_key))
        [alarm] = await asyncio.to_thread(
            wait_for, lambda: TrustingClient.monitor(a.url, monitor))
        assert alarm.kind == "rogue_entry" and alarm.index == 2
        # lookups elsewhere refuse the rogue key
        answer = await asyncio.to_thread(wait_for, lambda: (lambda x: x if x and len(
            x["entries"]) == 3 else None)(answered()))
        with pytest.raises(CryptoError):
            verify_lookup(answer, ta.ex.node_id, ta.ex.node_key_raw, tb.witnesses(), tb.k())


async def test_client_waits_for_witnessing(three: list[FedNode]) -> None:
    a, b, _ = three
    with running(three):
        peer_all(three)
        await asyncio.to_thread(wait_for, knows(b, "alpha@athens"))
        cb = Client(b.url, b.node.members["bravo"].token)
        res = await asyncio.to_thread(cb.publish, bundle_with("w"), tlp="amber",
                                      to=["member:alpha@athens"])
        # alpha pins the witness keys of the roster's nodes (athens' own never counts)
        ca = TrustingClient(a.url, a.node.members["alpha"].token, require_witnessed=True,
                            witnesses=trust(a).witnesses())
        assert ca.k == 1

        def shown() -> Any:
            try:
                return ca.get(res["id"])
            except VigilError as e:
                assert e.code in ("client.not_witnessed", "share.not_found")
                return None
        share = await asyncio.to_thread(wait_for, shown)
        assert share.bundle is not None and b"secret note w" in share.bundle
        w = ca.witnessed(res["id"])
        assert w["witnessed"] and len(w["witnesses"]) >= w["k"] == 1
        assert not w["revoked_key"]
        # the proof is athens' own log, cosigned by berlin or cairo, never by athens
        proven = ca.check_witnessed(share.envelope)
        assert proven.index == share.log_index
        assert proven.witnesses and all(not x.endswith(trust(a).ex.node_id)
                                        for x in proven.witnesses)
        # another member of athens may not ask about it: 404 like a missing share
        r = httpx.get(a.url + f"/api/v1/federation/witnessed/share--{uuid.uuid4()}",
                      headers=a.auth(), timeout=5)
        assert r.status_code == 404


async def test_revocation_reaches_every_node_and_refuses_later_items(
        three: list[FedNode]) -> None:
    a, _, c = three
    with running(three):
        peer_all(three)
        await asyncio.to_thread(wait_for, knows(a, "charlie@cairo"))
        await asyncio.to_thread(wait_for, knows(c, "alpha@athens"))  # cairo addresses alpha
        cc = Client(c.url, c.node.members["charlie"].token)
        before = await asyncio.to_thread(cc.publish, bundle_with("before"), tlp="amber",
                                         to=["member:alpha@athens"])
        charlie = c.node.members["charlie"]

        def delivered(share: str) -> Any:
            return a.exchange().store.get_share(share)
        await asyncio.to_thread(wait_for, lambda: delivered(before["id"]))
        args = ["--data", str(c.node.data), "directory"]
        run = CliRunner().invoke(cli_mod.cli, [*args, "register", "charlie"],
                                 catch_exceptions=False)
        assert run.exit_code == 0, run.output
        run = CliRunner().invoke(cli_mod.cli, [*args, "revoke", "charlie", "--lost"],
                                 catch_exceptions=False)
        assert run.exit_code == 0 and "revoked from log index" in run.output
        kid = charlie.keyring.sign_key_id
        # the revocation rides cairo's next heartbeat, ahead of anything queued
        await asyncio.to_thread(
            wait_for, lambda: trust(a).revocations.point(kid) is not None)
        after = await asyncio.to_thread(cc.publish, bundle_with("after"), tlp="amber",
                                        to=["member:alpha@athens"])

        def refused() -> bool:
            link = {p["peer"]: p for p in a.status()["peers"]}["cairo"]
            return any(q.get("code") == "fed.revoked_key" for q in link["quarantined"])
        await asyncio.to_thread(wait_for, refused)
        assert delivered(after["id"]) is None
        assert not trust(a).revocations.marked(before["id"])


async def test_roster_refuses_nodes_off_it_and_needs_the_threshold(
        three: list[FedNode], tmp_path: Path) -> None:
    a, b, c = three
    with running(three):
        peer_all(three)
        await asyncio.to_thread(wait_for, knows(a, "charlie@cairo"))
        await asyncio.to_thread(wait_for, knows(a, "bravo@berlin"))
        await asyncio.to_thread(wait_for, knows(c, "alpha@athens"))  # cairo publishes to it

        def roster(node: FedNode, *args: str) -> str:
            run = CliRunner().invoke(cli_mod.cli, ["--data", str(node.node.data), "roster",
                                                   *args])
            failed = getattr(run.exception, "code", "") if run.exit_code else ""
            assert run.exit_code == 0 or str(failed).startswith("roster."), run.output
            return run.output + str(failed)
        # athens and berlin found a roster; cairo is not on it
        genesis = str(tmp_path / "genesis.json")
        roster(a, "propose", "genesis", "berlin", "--out", genesis)
        roster(a, "sign", genesis)
        roster(b, "sign", genesis)
        assert "roster:" in roster(a, "apply", genesis)
        # berlin takes it from athens' heartbeat
        await asyncio.to_thread(wait_for, lambda: len(trust(b).roster.nodes) == 2)
        cc = Client(c.url, c.node.members["charlie"].token)
        res = await asyncio.to_thread(cc.publish, bundle_with("off roster"), tlp="amber",
                                      to=["member:alpha@athens"])

        def quarantined(node: FedNode, peer: str, code: str) -> bool:
            link = {p["peer"]: p for p in node.status()["peers"]}[peer]
            return any(q.get("code") == code for q in link["quarantined"])
        await asyncio.to_thread(wait_for, lambda: quarantined(a, "cairo", "fed.not_on_roster"))
        assert a.exchange().store.get_share(res["id"]) is None
        # admitting cairo with one of the two signatures needed is refused
        admit = str(tmp_path / "admit.json")
        roster(a, "propose", "admit", "cairo", "--out", admit)
        roster(a, "sign", admit)
        assert "roster.threshold" in roster(a, "apply", admit)
        roster(b, "sign", admit)
        assert "roster:" in roster(b, "apply", admit)
        await asyncio.to_thread(wait_for, lambda: len(trust(a).roster.nodes) == 3)
        res = await asyncio.to_thread(cc.publish, bundle_with("on roster"), tlp="amber",
                                      to=["member:alpha@athens"])

        def delivered() -> bool:
            return a.exchange().store.get_share(res["id"]) is not None
        await asyncio.to_thread(wait_for, delivered)


async def test_a_member_moves_to_another_node(three: list[FedNode]) -> None:
    """alpha signs its move to berlin through its client and takes itself there
    (`POST /api/v1/directory/take`; `vigil directory take` refuses before the move and
    after the take); cairo then holds berlin as alpha's home, and a lookup at
    athens sends the client to berlin."""
    a, b, c = three
    with running(three):
        peer_all(three)
        alpha = a.node.members["alpha"]
        ta, tb = trust(a), trust(b)
        await asyncio.to_thread(wait_for, knows(b, "alpha@athens"))
        await asyncio.to_thread(wait_for, knows(c, "alpha@athens"))
        await asyncio.to_thread(wait_for, lambda: ta.directory.member_entries(alpha.id))
        await asyncio.to_thread(wait_for, lambda: len(ta.refresh_peers()) == 2)

        def take() -> str:
            run = CliRunner().invoke(cli_mod.cli, ["--data", str(b.node.data), "directory",
                                                   "take", "alpha@athens"])
            return run.output + str(getattr(run.exception, "code", "") or repr(run.exception))
        # athens answers lookups once alpha's entries are witnessed (dir.not_witnessed
        # until then); then the move is what is missing
        await asyncio.to_thread(wait_for, lambda: "dir.not_witnessed" not in take())
        assert "dir.not_moved" in take()  # alpha has not moved
        with TrustingClient(a.url, alpha.token) as ca:
            move = next_entry(ta.directory.keys(alpha.id), "rehome", alpha.id,
                              ta.ex.node_id, to=tb.ex.node_id)
            ca.submit_entry(move, alpha.keyring.sign_private)

        def moved() -> bool:
            try:
                TrustingClient.lookup(a.url, ta.ex.node_id, ta.ex.node_key_raw, alpha.id,
                                      tb.witnesses(), tb.k())
            except VigilError as e:
                return e.code == "dir.moved" and e.detail["to"] == tb.ex.node_id
            return False
        await asyncio.to_thread(wait_for, moved)
        # alpha takes itself at berlin over HTTP, signed in there (identity from auth)
        token = b.exchange().add_user(alpha.id, "alpha-at-berlin", scope="admin")[1]
        url = b.url + "/api/v1/directory/take"
        r = httpx.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=15)
        assert r.status_code == 200, r.text
        assert r.json() == {"member": alpha.id, "from": ta.ex.node_id}
        # bravo is no member that moved here: refused, nothing changes
        r = httpx.post(url, headers=b.auth("bravo"), timeout=15)
        assert r.status_code == 422 and r.json()["error"]["code"] == "dir.not_moved"
        assert "dir.not_moved" in take()  # homed here now: nothing to take

        def home_of(node: FedNode) -> str | None:
            got = node.exchange().store.read(
                lambda sql: fed_q.remote_member(sql, alpha.id))
            return None if got is None else str(got[0])
        assert home_of(b) is None
        assert home_of(a) == tb.ex.node_id
        # cairo follows only with the proof, checked with athens' pinned key
        await asyncio.to_thread(wait_for, lambda: home_of(c) == tb.ex.node_id)
