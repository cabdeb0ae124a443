"""`vigil gateway`: a member whose keys the node does not hold reads its sealed shares
as plain STIX through its own local TAXII 2.1 endpoint; the node never held plaintext."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from stix2validator import ValidationOptions, validate_instance
from taxii2client.v21 import Server, as_pages

from vigil import testing
from vigil.client import Client
from vigil.errors import CryptoError
from vigil.gateway import LocalStore, follow, watch
from vigil.model import ChannelKind
from vigil.taxii.query import Query
from vigil.testing import stix

LOCAL_TOKEN = "local-gateway-token-for-tests"


def bundle(marker: str, n: int) -> tuple[bytes, list[dict[str, Any]]]:
    at = "2024-05-01T00:00:00.000Z"
    objs = [stix.indicator(f"{marker}-{i}.example", at=at, name=f"{marker} {i}")
            for i in range(n)]
    objs.append(stix.malware(f"{marker} malware", at=at))
    return stix.bundle(*objs), objs


class Gateway:
    def __init__(self, tmp: Path, node_url: str, member: testing.TestMember) -> None:
        self.port = testing.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [sys.executable, "-m", "vigil.cli", "gateway", "--node", node_url,
                     "--token", member.token, "--keyring", str(member.keyring_path),
                     "--listen", f"127.0.0.1:{self.port}", "--db", str(tmp / "gateway.db"),
                     "--local-token", LOCAL_TOKEN, "--state", str(tmp / "checkpoints.json")]
        self.log = tmp / "gateway.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Gateway:
        env = dict(os.environ, VIGIL_KEYRING_PASSPHRASE=testing.PASSPHRASE)
        with open(self.log, "ab") as logf:
            self.proc = subprocess.Popen(self.args, env=env, stdout=logf,
                                         stderr=subprocess.STDOUT)
        return self

    def health(self, objects: int, *, exactly: bool = False) -> dict[str, Any]:
        """Wait until the gateway holds at least (or exactly) this many object versions."""
        deadline = time.monotonic() + 60
        doc: dict[str, Any] = {}
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace"))
            try:
                doc = httpx.get(self.url + "/healthz", timeout=1.0).json()
                if doc["objects"] == objects or (doc["objects"] > objects and not exactly):
                    return doc
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"gateway holds {doc}, wanted {objects} objects")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[testing.TestNode, testing.ServerProcess]]:
    n = testing.make_node(tmp_path / "node", {"alpha": True, "delta": False, "echo": False})
    ex = n.exchange()
    ex.create_channel(n.members["delta"].id, "d-e", ChannelKind.BILATERAL,
                      [n.members["echo"].id])
    ex.store.close()
    with testing.ServerProcess(n.data) as srv:
        yield n, srv


def node_bytes(data: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())


def test_gateway_serves_sealed_shares_decrypted(
        tmp_path: Path, node: tuple[testing.TestNode, testing.ServerProcess]) -> None:
    n, srv = node
    delta, echo, alpha = n.members["delta"], n.members["echo"], n.members["alpha"]
    marker = f"gwmarker{uuid.uuid4().hex[:12]}"
    sealed_raw, sealed_objs = bundle(marker, 3)
    plain_raw, plain_objs = bundle("plainshare", 1)
    with Client(srv.url, delta.token, delta.keyring) as c:
        res = c.publish(sealed_raw, tlp="amber", to=["d-e"])
        assert res["form"] == "sealed"
    with Client(srv.url, alpha.token) as c:
        assert c.publish(plain_raw, tlp="green")["form"] == "plain"

    gw = Gateway(tmp_path, srv.url, echo).start()
    try:
        gw.health(len(sealed_objs) + len(plain_objs))
        server = Server(f"{gw.url}/taxii2/", user="siem", password=LOCAL_TOKEN)
        root = server.api_roots[0]
        inbox = next(c for c in root.collections if c.title == "Inbox")
        assert inbox.can_read and not inbox.can_write
        got: list[dict[str, Any]] = []
        for env in as_pages(inbox.get_objects, 2):
            got += env.get("objects", [])
        want = {o["id"]: o for o in sealed_objs + plain_objs}
        assert {o["id"]: o for o in got} == want
        for obj in got:  # what the SIEM reads is valid STIX 2.1 for the reference validator
            assert validate_instance(obj, ValidationOptions(version="2.1")).errors == []

        first = sealed_objs[0]
        assert inbox.get_object(first["id"])["objects"] == [first]
        assert {o["id"] for o in inbox.get_objects(type="malware")["objects"]} == \
            {o["id"] for o in want.values() if o["type"] == "malware"}
        manifest = inbox.get_manifest()["objects"]
        assert {m["id"] for m in manifest} == set(want)

        # added_after with the Date-Added-Last of a page: the next share onwards
        objects_url = f"{gw.url}/taxii2/api/collections/inbox/objects/"
        headers = {"Authorization": f"Bearer {LOCAL_TOKEN}",
                   "Accept": "application/taxii+json;version=2.1"}
        page = httpx.get(objects_url, params={"limit": len(sealed_objs)}, headers=headers)
        assert page.headers["content-type"].startswith("application/taxii+json")
        assert page.json()["more"] is True
        assert {o["id"] for o in page.json()["objects"]} == {o["id"] for o in sealed_objs}
        rest = httpx.get(objects_url, headers=headers, params={
            "added_after": page.headers["X-TAXII-Date-Added-Last"]}).json()
        assert {o["id"] for o in rest["objects"]} == {o["id"] for o in plain_objs}

        # a share delivered while the gateway runs arrives through the live stream
        live_raw, live_objs = bundle(marker + "live", 1)
        with Client(srv.url, delta.token, delta.keyring) as c:
            c.publish(live_raw, tlp="amber", to=["d-e"])
        gw.health(len(want) + len(live_objs))

        # wrong local token: refused in the TAXII error format
        r = httpx.get(f"{gw.url}/taxii2/", auth=("siem", "wrong"))
        assert r.status_code == 401 and r.json()["http_status"] == "401"
    finally:
        gw.stop()

    # the node never held the plaintext of the sealed shares
    assert marker.encode() not in node_bytes(n.data)
    assert b"plainshare" in node_bytes(n.data)  # the check itself can see plaintext


def test_gateway_resumes_after_restart(
        tmp_path: Path, node: tuple[testing.TestNode, testing.ServerProcess]) -> None:
    n, srv = node
    delta, echo = n.members["delta"], n.members["echo"]
    raw1, objs1 = bundle("first", 2)
    with Client(srv.url, delta.token, delta.keyring) as c:
        c.publish(raw1, tlp="amber", to=["d-e"])
    gw = Gateway(tmp_path, srv.url, echo).start()
    try:
        before = gw.health(len(objs1))
    finally:
        gw.stop()
    raw2, objs2 = bundle("second", 2)
    with Client(srv.url, delta.token, delta.keyring) as c:
        c.publish(raw2, tlp="amber", to=["d-e"])
    gw.start()
    try:
        after = gw.health(len(objs1) + len(objs2))
    finally:
        gw.stop()
    assert before["shares"] == 1 and after["shares"] == 2
    assert after["objects"] == len(objs1) + len(objs2) and after["refused"] == 0


def test_gateway_drops_a_recalled_share(
        tmp_path: Path, node: tuple[testing.TestNode, testing.ServerProcess]) -> None:
    n, srv = node
    delta, echo = n.members["delta"], n.members["echo"]
    keep_raw, keep = bundle("kept", 1)
    gone_raw, gone = bundle("recalled", 2)
    with Client(srv.url, delta.token, delta.keyring) as c:
        c.publish(keep_raw, tlp="amber", to=["d-e"])
        recalled = c.publish(gone_raw, tlp="amber", to=["d-e"])["id"]
    gw = Gateway(tmp_path, srv.url, echo).start()
    try:
        gw.health(len(keep) + len(gone))
        with Client(srv.url, delta.token, delta.keyring) as c:
            c.recall(recalled)
        after = gw.health(len(keep), exactly=True)
        assert after["shares"] == 1
        server = Server(f"{gw.url}/taxii2/", user="siem", password=LOCAL_TOKEN)
        inbox = server.api_roots[0].collections[0]
        assert {o["id"] for o in inbox.get_objects()["objects"]} == {o["id"] for o in keep}
    finally:
        gw.stop()


# -- the gateway obeys the originator and trusts no node (in process) ---------------------

async def _until(cond: Callable[[], bool], task: asyncio.Task[None]) -> None:
    for _ in range(600):
        if cond():
            return
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway did not get there")


async def _follow_until(client: Client, store: LocalStore, keyring: Any,
                        cond: Callable[[], bool]) -> None:
    task = asyncio.ensure_future(follow(client, store, keyring))
    try:
        await _until(cond, task)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _served(store: LocalStore) -> set[str]:
    return {i.id for i in store.page(Query(limit=1000)).items}


async def test_gateway_serves_only_what_the_originator_lets_leave_and_drops_withdrawn(
        tmp_path: Path, node: tuple[testing.TestNode, testing.ServerProcess]) -> None:
    n, srv = node
    delta, echo = n.members["delta"], n.members["echo"]
    sent: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    with Client(srv.url, delta.token, delta.keyring) as c:
        for name, kw in {"amber": {"tlp": "amber", "to": ["d-e"]},
                         "strict": {"tlp": "amber+strict", "to": ["d-e"]},
                         "red": {"tlp": "red", "to": ["member:echo"]},
                         "no_onward": {"tlp": "green", "to": ["d-e"], "no_onward": True},
                         "purged": {"tlp": "amber", "to": ["d-e"]}}.items():
            raw, objs = bundle(name, 1)
            sent[name] = (c.publish(raw, **kw)["id"], objs)
    store = LocalStore(tmp_path / "gw.db")
    client = Client(srv.url, echo.token, echo.keyring, log_state=tmp_path / "cp.json")
    try:
        await _follow_until(client, store, echo.keyring,
                            lambda: store.counts()["cursor"] >= 5)
        counts = store.counts()
        assert (counts["shares"], counts["withheld"], counts["refused"]) == (2, 3, 0)
        served = {o["id"] for k in ("amber", "purged") for o in sent[k][1]}
        assert _served(store) == served  # RED, AMBER+STRICT and no-onward never served
        assert {w["share"]: w["reason"] for w in store.withheld()} == {
            sent["strict"][0]: "policy.tlp_forbids_onward",
            sent["red"][0]: "policy.tlp_forbids_onward",
            sent["no_onward"][0]: "policy.no_onward"}

        # a recall is delivered like a share: the copy goes and the receipt is sent
        with Client(srv.url, delta.token, delta.keyring) as c:
            c.recall(sent["red"][0])
        await _follow_until(client, store, echo.keyring,
                            lambda: store.counts()["withheld"] == 2)
        with Client(srv.url, delta.token, delta.keyring) as c:
            (rec,) = c.receipts(sent["red"][0])["recipients"]
        assert rec["received"] is not None and rec["recall_ack"] is not None

        # a purge is not delivered, but the log records it: the watch deletes the copy
        from vigil.node.accountability import purge

        ex = n.exchange()
        try:
            assert purge(ex, [sent["purged"][0]]) == [sent["purged"][0]]
        finally:
            ex.store.close()
        w = await asyncio.to_thread(watch, client, store)
        assert {(e.kind, e.entry["share"]) for e in w.events if e.kind != "member"} == {
            ("recall", sent["red"][0]), ("purge", sent["purged"][0])}
        assert _served(store) == {o["id"] for o in sent["amber"][1]}
        assert store.counts()["shares"] == 1 and store.counts()["alerts"] == 0
    finally:
        client.close()
        store.close()


async def test_gateway_refuses_a_share_whose_proof_the_node_withholds(
        tmp_path: Path, node: tuple[testing.TestNode, testing.ServerProcess]) -> None:
    from tests.client.hostile import Proxy, StreamEdit, no_proofs, strip_proof

    n, srv = node
    delta, echo = n.members["delta"], n.members["echo"]
    raw, _ = bundle("unproven", 1)
    with Client(srv.url, delta.token, delta.keyring) as c:
        sid = c.publish(raw, tlp="amber", to=["d-e"])["id"]
    store = LocalStore(tmp_path / "gw.db")
    client = Client(srv.url, echo.token, echo.keyring, log_state=tmp_path / "cp.json",
                    transport=Proxy(no_proofs()), async_transport=StreamEdit(strip_proof))
    try:
        await _follow_until(client, store, echo.keyring,
                            lambda: store.counts()["refused"] >= 1)
        assert store.counts()["objects"] == 0 and _served(store) == set()
        row = store._db.execute("SELECT share_id, code FROM refused").fetchone()
        assert tuple(row) == (sid, "log.missing_proof")
    finally:
        client.close()
        store.close()


async def test_gateway_alerts_on_a_replayed_event_and_a_key_it_did_not_make(
        tmp_path: Path, node: tuple[testing.TestNode, testing.ServerProcess]) -> None:
    from tests.client.hostile import Replay, StreamEdit

    from vigil import clock
    from vigil.crypto.keyring import Keyring
    from vigil.log.entries import member_entry

    n, srv = node
    delta, echo = n.members["delta"], n.members["echo"]
    raw, objs = bundle("replayed", 1)
    with Client(srv.url, delta.token, delta.keyring) as c:
        c.publish(raw, tlp="amber", to=["d-e"])
    store = LocalStore(tmp_path / "gw.db")
    client = Client(srv.url, echo.token, echo.keyring, log_state=tmp_path / "cp.json",
                    async_transport=StreamEdit(Replay(same=False)))
    try:
        await _follow_until(client, store, echo.keyring,
                            lambda: store.counts()["alerts"] >= 1)
        assert store.alerts()[0]["code"] == "client.stream_replay"
        assert _served(store) == {o["id"] for o in objs}  # taken once, the replay refused
        assert (await asyncio.to_thread(watch, client, store)).foreign == []
        fake = Keyring.generate(echo.id)
        ex = n.exchange()
        try:
            ex.store.write(lambda sql: ex.log.append(sql, member_entry(
                echo.id, "add", fake.sign_key_id, fake.enc_key_id, clock.now())))
        finally:
            ex.store.close()
        w = await asyncio.to_thread(watch, client, store)
        assert [e.entry["sign_key"] for e in w.foreign] == [fake.sign_key_id]
        assert [a["code"] for a in store.alerts()][-1] == "log.foreign_key"
    finally:
        client.close()
        store.close()


def test_gateway_drops_a_share_past_its_expiry(tmp_path: Path) -> None:
    from vigil.client import LogWatch

    class Quiet:
        def watch_log(self) -> LogWatch:
            return LogWatch([], 0)

    store = LocalStore(tmp_path / "gw.db")
    try:
        store.add_share(1, "share--old", "signer", [{"id": "indicator--1", "type": "x"}],
                        "2001-01-01T00:00:00.000Z")
        store.add_share(2, "share--new", "signer", [{"id": "indicator--2", "type": "x"}],
                        "2999-01-01T00:00:00.000Z")
        watch(Quiet(), store)  # type: ignore[arg-type]
        assert _served(store) == {"indicator--2"} and store.counts()["shares"] == 1
    finally:
        store.close()


async def test_gateway_alerts_on_a_rolled_back_log(
        tmp_path: Path, node: tuple[testing.TestNode, testing.ServerProcess]) -> None:
    from tests.client.hostile import Proxy, only

    n, srv = node
    delta, echo = n.members["delta"], n.members["echo"]
    state = tmp_path / "cp.json"
    old: dict[str, Any] = {}

    def stale(doc: Any) -> Any:
        old.setdefault("doc", doc)
        return old["doc"]

    hostile = Client(srv.url, echo.token, echo.keyring, log_state=state,
                     transport=Proxy(only("/api/v1/log/checkpoint", stale)))
    hostile._call("GET", "/api/v1/log/checkpoint")  # the checkpoint the node will replay
    with Client(srv.url, delta.token, delta.keyring) as c:
        c.publish(bundle("later", 1)[0], tlp="amber", to=["d-e"])
    with Client(srv.url, echo.token, echo.keyring, log_state=state) as honest:
        honest.checkpoint()  # the member saw the log grow
    store = LocalStore(tmp_path / "gw.db")
    try:
        await _follow_until(hostile, store, echo.keyring,
                            lambda: store.counts()["alerts"] >= 1)
        assert store.alerts()[0]["code"] == "log.rollback"
        assert store.counts()["objects"] == 0
    finally:
        hostile.close()
        store.close()


def test_gateway_notes_an_alert_repeated_at_once_only_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "gw.db")
    try:
        for code in ("log.rollback", "log.rollback", "log.fork", "log.rollback"):
            store.alert(code, "the node's log went back")
        assert [a["code"] for a in store.alerts()] == ["log.rollback", "log.fork",
                                                      "log.rollback"]
    finally:
        store.close()


def test_gateway_lists_withheld_shares_to_its_local_token_only(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from vigil.crypto.keyring import Keyring
    from vigil.gateway import create_gateway_app

    kr = Keyring.generate(f"identity--{uuid.uuid4()}")
    store = LocalStore(tmp_path / "gw.db")
    client = Client("http://node.invalid", "t", kr)
    try:
        store.withhold(1, "share--red", "signed by x", "policy.tlp_forbids_onward",
                       b'{"type": "bundle", "objects": [{"id": "indicator--1"}]}', None)
        app = create_gateway_app(client, kr, store, local_token=LOCAL_TOKEN,
                                 follow_node=False)
        with TestClient(app) as http:
            ok = http.get("/withheld", headers={"Authorization": f"Bearer {LOCAL_TOKEN}"})
            assert [w["share"] for w in ok.json()["withheld"]] == ["share--red"]
            assert http.get("/withheld", headers={"Authorization": "Bearer nope"}
                            ).status_code == 401
            objects = http.get("/taxii2/api/collections/inbox/objects/", headers={
                "Authorization": f"Bearer {LOCAL_TOKEN}",
                "Accept": "application/taxii+json;version=2.1"})
            assert objects.status_code == 200 and objects.json().get("objects", []) == []
            assert http.get("/healthz").json()["withheld"] == 1
    finally:
        client.close()
        store.close()


async def test_gateway_takes_a_remote_signer_key_only_with_its_directory_proof(
        tmp_path: Path) -> None:
    """A share of bravo@berlin reaches alpha@athens. The gateway takes bravo's key only
    as berlin's directory proves it (k cosignatures of pinned witnesses): a key athens
    serves for bravo on its own word -- a forged one -- is refused ``dir.key_unproven``,
    as is bravo's share at a gateway with no witnesses pinned."""
    from tests.federation.crossing import refused_codes
    from tests.federation.nodes import share_across

    from vigil.client import InboxItem
    from vigil.crypto.encoding import b64u
    from vigil.crypto.keys import generate_sign_key, sign_key_id, sign_public_raw
    from vigil.gateway import ingest
    from vigil.model import Audience, Form, Handling, Tlp
    from vigil.protocol.envelope import build_share
    from vigil.trust_client import TrustingClient

    async with share_across(tmp_path, "honest") as (a, b, sid):
        alpha, bravo = a.node.members["alpha"], b.node.members["bravo"]
        witnesses = a.server.app.state.trust.witnesses()  # pinned out of band
        client = TrustingClient(a.url, alpha.token, alpha.keyring, witnesses=witnesses,
                                log_state=tmp_path / "cp.json")
        plain = Client(a.url, alpha.token, alpha.keyring, log_state=tmp_path / "cp2.json")
        store, bare = LocalStore(tmp_path / "gw.db"), LocalStore(tmp_path / "bare.db")
        try:
            env, state = await asyncio.to_thread(client.envelope, sid)
            await asyncio.to_thread(ingest, client, store, alpha.keyring,
                                    InboxItem(1, sid, "", env, state))
            assert store.counts()["shares"] == 1 and store.counts()["refused"] == 0
            keys = await asyncio.to_thread(client.proven_signer, env)
            assert keys is not None and keys.sign_key == sign_public_raw(
                bravo.keyring.sign_private)

            # athens serves a forged key for bravo (its word, with its own log proof)
            # and hands alpha a share signed by it: the node's word alone takes it
            forged_key = generate_sign_key(False)
            forged = build_share(
                plaintext=stix.canary_bundle("forged"), originator=bravo.id,
                audience=Audience(Tlp.GREEN, recipients=(alpha.id,)),
                recipients=[alpha.id], form=Form.PLAIN, handling=Handling(), themes=[],
                regions=[], expires=None, signer_private=forged_key,
                signer_key_id=sign_key_id(forged_key), recipient_keys={})
            served = dict(await asyncio.to_thread(client.member, bravo.id))
            served["sign_key"] = {"id": sign_key_id(forged_key), "alg": "ed25519",
                                  "public": b64u(sign_public_raw(forged_key))}
            served["log"] = {**served["log"], "entry": {**served["log"]["entry"],
                                                        "sign_key": sign_key_id(forged_key)}}
            client._keys[bravo.id] = client._keys[served["name"]] = served
            assert "verified" in Client.verify(client, forged)  # the node's word
            with pytest.raises(CryptoError) as unproven:  # the proving client's check
                client.verify(forged)
            assert unproven.value.code == "dir.key_unproven"
            await asyncio.to_thread(ingest, client, store, alpha.keyring,
                                    InboxItem(2, forged.id, "", forged, {}))
            assert store.counts()["shares"] == 1 and store.counts()["refused"] == 1
            refused = store._db.execute("SELECT share_id, code FROM refused").fetchall()
            assert refused == [(forged.id, "dir.key_unproven")]

            # with no witnesses pinned, another node's member is not taken at all
            assert await refused_codes(plain, bare, alpha.keyring, InboxItem(
                1, sid, "", env, state)) == ["dir.key_unproven"]
        finally:
            client.close()
            plain.close()
            store.close()
            bare.close()
