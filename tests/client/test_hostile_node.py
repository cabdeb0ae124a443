"""A member side that trusts no node: a real node whose answers a test proxy (an httpx
transport around the client's connection) alters. The SDK refuses each lie with a stable
code and never sends plaintext that should have been sealed: every request body the
node received, and its data directory, are scanned for a canary string."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from tests.client.hostile import Alter, Proxy, Replay, StreamEdit, no_proofs, only, strip_proof

from vigil import testing
from vigil.client import Client, Refused
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.keys import ALG_X25519, key_id
from vigil.errors import CryptoError, PolicyDenied
from vigil.model import ChannelKind
from vigil.testing import stix


def bundle(canary: str) -> bytes:
    return stix.bundle(stix.indicator(f"{canary}.example", name=canary))


class Hub:
    def __init__(self, node: testing.TestNode, srv: testing.ServerProcess,
                 tmp: Path) -> None:
        self.node, self.srv, self.tmp = node, srv, tmp
        self.proxies: list[Proxy] = []

    def client(self, who: str, alter: Alter | None = None, *, state: str | None = None,
               stream: StreamEdit | None = None) -> tuple[Client, Proxy]:
        m = self.node.members[who]
        proxy = Proxy(alter)
        self.proxies.append(proxy)
        path = self.tmp / (state or f"{who}-{uuid.uuid4().hex[:6]}.json")
        return Client(self.srv.url, m.token, m.keyring, transport=proxy, log_state=path,
                      async_transport=stream), proxy

    def node_bytes(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.node.data.rglob("*") if p.is_file())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Hub]:
    tmp = tmp_path_factory.mktemp("hostile")
    with contextlib.ExitStack() as stack:
        url = None  # the node's own SQLite file, or a fresh PostgreSQL database
        if request.param == "postgresql":
            url = stack.enter_context(request.getfixturevalue("pg_databases").fresh())
        node = testing.make_node(tmp / "node", {"alpha": False, "bravo": False,
                                                "charlie": False}, store=url)
        ex = node.exchange()
        ex.create_channel(node.members["alpha"].id, "ab", ChannelKind.GROUP,
                          [node.members["bravo"].id])
        ex.store.close()
        with testing.ServerProcess(node.data) as srv:
            yield Hub(node, srv, tmp)


def canary() -> str:
    return f"canary{uuid.uuid4().hex}"


def assert_never_sent(hub: Hub, proxy: Proxy, secret: str) -> None:
    assert not any(secret.encode() in body for body in proxy.sent)
    assert secret.encode() not in hub.node_bytes()


# -- publishing: the form, the recipients and their keys are the member's -----------------

@pytest.mark.parametrize(("tlp", "to"), [
    ("amber", ["ab"]), ("amber+strict", ["member:bravo"]), ("red", ["member:bravo"]),
    ("green", ["member:bravo"]), ("green", ["ab"]), ("clear", ["ab"]), ("amber", [])])
def test_a_downgraded_form_in_preview_is_refused(hub: Hub, tlp: str, to: list[str]) -> None:
    secret = canary()

    def plain(doc: Any) -> Any:
        return {**doc, "form": "plain"}

    c, proxy = hub.client("alpha", only("/api/v1/preview", plain))
    with c, pytest.raises(CryptoError) as info:
        c.publish(bundle(secret), tlp=tlp, to=to)
    assert info.value.code == "client.form_downgrade"
    assert_never_sent(hub, proxy, secret)


def test_an_honest_preview_still_publishes_sealed_and_plain(hub: Hub) -> None:
    secret = canary()
    c, proxy = hub.client("alpha")
    with c:
        assert c.publish(bundle(secret), tlp="amber", to=["ab"])["form"] == "sealed"
        assert c.publish(bundle(canary()), tlp="green")["form"] == "plain"
    assert_never_sent(hub, proxy, secret)


def attacker_key() -> dict[str, str]:
    pub = X25519PrivateKey.generate().public_key().public_bytes_raw()
    return {"id": key_id(ALG_X25519, pub), "public": b64u(pub)}


def test_a_swapped_recipient_key_in_preview_is_refused(hub: Hub) -> None:
    secret = canary()
    evil = attacker_key()

    def swap(doc: Any) -> Any:
        return {**doc, "recipients": [{**r, "enc_key": evil} for r in doc["recipients"]]}

    c, proxy = hub.client("alpha", only("/api/v1/preview", swap))
    with c, pytest.raises(CryptoError) as info:
        c.publish(bundle(secret), tlp="amber", to=["member:bravo"])
    assert info.value.code == "client.key_swapped"
    assert_never_sent(hub, proxy, secret)


def swap_member_keys(evil: dict[str, str], *, log: bool) -> Alter:
    """The node serves its own key for every member but alpha, in the preview and the
    directory alike; ``log=False`` also drops the key entry's proof."""
    def alter(request: httpx.Request, doc: Any) -> Any:
        p = request.url.path
        if p == "/api/v1/preview":
            return {**doc, "recipients": [{**r, "enc_key": evil} for r in doc["recipients"]]}
        if p.startswith("/api/v1/members"):
            def one(m: dict[str, Any]) -> dict[str, Any]:
                if m["name"] == "alpha":
                    return m
                out = {**m, "enc_key": {**m["enc_key"], **evil}}
                if not log:
                    out.pop("log", None)
                return out
            return {"members": [one(m) for m in doc["members"]]} if "members" in doc \
                else one(doc)
        return doc
    return alter


@pytest.mark.parametrize(("log", "code"), [(True, "log.key_mismatch"),
                                           (False, "log.missing_proof")])
def test_a_member_key_the_log_does_not_hold_is_refused(hub: Hub, log: bool,
                                                       code: str) -> None:
    secret = canary()
    c, proxy = hub.client("alpha", swap_member_keys(attacker_key(), log=log))
    with c, pytest.raises(CryptoError) as info:
        c.publish(bundle(secret), tlp="amber", to=["ab"])
    assert info.value.code == code
    assert_never_sent(hub, proxy, secret)


def test_signatures_are_checked_only_against_logged_keys(hub: Hub) -> None:
    with hub.client("alpha")[0] as a:
        sid = a.publish(bundle(canary()), tlp="amber", to=["member:bravo"])["id"]

    def drop_proof(doc: Any) -> Any:
        return {k: v for k, v in doc.items() if k != "log"}

    alpha_id = hub.node.members["alpha"].id
    b, _ = hub.client("bravo", only(f"/api/v1/members/{alpha_id}", drop_proof))
    with b, pytest.raises(CryptoError) as info:
        b.get(sid)
    assert info.value.code == "log.missing_proof"
    with hub.client("bravo")[0] as b2:
        assert b2.get(sid).verified


def test_a_preview_that_adds_a_recipient_is_refused(hub: Hub) -> None:
    secret = canary()
    charlie = hub.node.members["charlie"]

    def add(doc: Any) -> Any:
        extra = {**doc["recipients"][0], "id": charlie.id, "name": "charlie"}
        return {**doc, "recipients": [*doc["recipients"], extra]}

    c, proxy = hub.client("alpha", only("/api/v1/preview", add))
    with c, pytest.raises(CryptoError) as info:
        c.publish(bundle(secret), tlp="amber", to=["member:bravo"])
    assert info.value.code == "client.preview_mismatch"
    assert_never_sent(hub, proxy, secret)


# -- the log: checkpoints and proofs -----------------------------------------------------

def test_a_rolled_back_checkpoint_is_refused_and_kept_as_evidence(hub: Hub) -> None:
    state = f"rollback-{uuid.uuid4().hex[:6]}.json"
    old: dict[str, Any] = {}

    def stale(doc: Any) -> Any:
        old.setdefault("doc", doc)
        return old["doc"]

    c, _ = hub.client("bravo", only("/api/v1/log/checkpoint", stale), state=state)
    with c:
        c.checkpoint()  # the node's checkpoint now, kept by the proxy
    with hub.client("alpha")[0] as a:
        a.publish(bundle(canary()), tlp="green")
    with hub.client("bravo", state=state)[0] as c2:
        assert c2.checkpoint().size > int(old["doc"]["size"])
    c3, _ = hub.client("bravo", only("/api/v1/log/checkpoint", stale), state=state)
    with c3, pytest.raises(CryptoError) as info:
        c3.checkpoint()
    assert info.value.code == "log.rollback"
    saved = orjson.loads((hub.tmp / state).read_bytes())
    (evidence,) = [e for doc in saved.values() for e in doc["evidence"]]
    assert evidence["kind"] == "rollback" and len(evidence["checkpoints"]) == 2


def test_a_withheld_proof_in_the_inbox_is_refused(hub: Hub) -> None:
    with hub.client("alpha")[0] as a:
        a.publish(bundle(canary()), tlp="amber", to=["member:charlie"])

    def strip(doc: Any) -> Any:
        for e in doc["entries"]:
            e["envelope"].pop("log", None)
        return doc

    c, _ = hub.client("charlie", only("/api/v1/inbox", strip))
    with c:
        assert all(i.log_index is not None for i in c.inbox())  # asked for once more
    c, _ = hub.client("charlie", no_proofs(strip))
    with c, pytest.raises(CryptoError) as info:
        list(c.inbox())
    assert info.value.code == "log.missing_proof"


def test_a_replayed_inbox_page_is_refused(hub: Hub) -> None:
    with hub.client("alpha")[0] as a:
        a.publish(bundle(canary()), tlp="amber", to=["member:charlie"])

    def replay(doc: Any) -> Any:
        return {**doc, "entries": doc["entries"] + doc["entries"][-1:]}

    c, _ = hub.client("charlie", only("/api/v1/inbox", replay))
    with c, pytest.raises(Refused) as info:
        list(c.inbox())
    assert info.value.code == "client.stream_order"


# -- the push stream --------------------------------------------------------------------

def two_shares(hub: Hub) -> list[str]:
    with hub.client("alpha")[0] as a:
        return [a.publish(bundle(canary()), tlp="amber", to=["member:bravo"])["id"]
                for _ in range(2)]


async def first_refusal(c: Client, after: int = 0) -> Refused:
    stream = c.stream(after)
    try:
        with pytest.raises(Refused) as info:
            for _ in range(100):
                await asyncio.wait_for(stream.__anext__(), 30)
    finally:
        await stream.aclose()
    return info.value


def bad_proof(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for ev in events:
        log = ev["data"]["envelope"]["log"]
        log["proof"] = [b64u(b"\x00" * 32)] * max(1, len(log["proof"]))
    return events


class Reorder:
    """Holds the first event back and sends it after the second."""

    def __init__(self) -> None:
        self.held: list[dict[str, Any]] = []

    def __call__(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.held:
            self.held = events
            return []
        return events + self.held


@pytest.mark.parametrize(("edit", "code"), [
    (strip_proof, "log.missing_proof"), (bad_proof, "log.bad_inclusion"),
    (Replay(same=True), "client.stream_order"), (Replay(same=False), "client.stream_replay"),
    (Reorder(), "client.stream_order")])
async def test_the_stream_refuses_what_a_hostile_node_delivers(
        hub: Hub, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
        code: str) -> None:
    two_shares(hub)
    c, _ = hub.client("bravo", no_proofs(), stream=StreamEdit(edit))
    with c:
        refusal = await first_refusal(c)
    assert refusal.code == code


async def test_the_stream_delivers_proven_shares_from_an_honest_node(hub: Hub) -> None:
    ids = two_shares(hub)
    c, _ = hub.client("bravo")
    with c:
        stream = c.stream(0)
        got = []
        try:
            while not set(ids) <= {i.share_id for i in got}:
                got.append(await asyncio.wait_for(stream.__anext__(), 30))
        finally:
            await stream.aclose()
    assert all(i.log_index is not None for i in got)
    assert [i.seq for i in got] == sorted({i.seq for i in got})


# -- the CLI, through a hostile HTTP proxy in front of the node ----------------------------

class ProxyServer:
    """An HTTP server in this process that forwards to the node and lets ``alter``
    change its JSON answers; it keeps every request body it received."""

    def __init__(self, upstream: str, alter: Alter) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.sent: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.sent.append(self.path.encode() + b"\n" + body)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length")}
                req = httpx.Request(self.command, upstream + self.path, headers=headers,
                                    content=body)
                with httpx.Client(timeout=30) as http:
                    resp = http.send(req)
                data = resp.content
                if resp.headers.get("content-type", "").startswith("application/json"):
                    data = orjson.dumps(alter(req, orjson.loads(data)))
                self.send_response(resp.status_code)
                self.send_header("Content-Type", resp.headers.get("content-type", ""))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_cli_refuses_a_downgraded_preview_and_sends_no_plaintext(hub: Hub) -> None:
    import os
    import subprocess
    import sys

    secret = canary()
    proxy = ProxyServer(hub.srv.url, only("/api/v1/preview",
                                          lambda doc: {**doc, "form": "plain"}))
    try:
        alpha = hub.node.members["alpha"]
        env = dict(os.environ, VIGIL_NODE=proxy.url, VIGIL_TOKEN=alpha.token,
                   VIGIL_KEYRING=str(alpha.keyring_path), VIGIL_DATA=str(hub.tmp / "alpha-cli"),
                   VIGIL_KEYRING_PASSPHRASE=testing.PASSPHRASE)
        runs = [subprocess.run([sys.executable, "-m", "vigil.cli", "publish", "-", "--tlp",
                                "amber", "--to", "ab", *dry], input=bundle(secret).decode(),
                               env=env, capture_output=True, text=True, timeout=60)
                for dry in ([], ["--dry-run"])]
    finally:
        proxy.close()
    for got in runs:
        assert got.returncode == 1 and "client.form_downgrade" in got.stderr
    assert any(b"/api/v1/preview" in body for body in proxy.sent)
    assert not any(secret.encode() in body for body in proxy.sent)
    assert secret.encode() not in hub.node_bytes()


# -- the log watch -----------------------------------------------------------------------

@pytest.mark.parametrize(("change", "code"), [
    (lambda doc: {**doc, "entries": doc["entries"][1:]}, "log.missing_entries"),
    (lambda doc: {**doc, "entries": [{**e, "entry": {**e["entry"], "at": "forged"}}
                                     if "entry" in e else e for e in doc["entries"]]},
     "log.bad_entry"),
    (lambda doc: {**doc, "entries": []}, "log.missing_entries")])
def test_the_log_watch_refuses_entries_left_out_or_altered(
        hub: Hub, change: Callable[[Any], Any], code: str) -> None:
    c, _ = hub.client("bravo", only("/api/v1/log/entries", change))
    with c, pytest.raises(CryptoError) as info:
        c.watch_log(0)
    assert info.value.code == code


def test_the_log_watch_proves_the_members_own_key_entry(hub: Hub) -> None:
    c, _ = hub.client("bravo")
    with c:
        w = c.watch_log(0)
        bravo = hub.node.members["bravo"]
        (own,) = [e for e in w.events if e.kind == "member"]
        assert own.entry["member"] == bravo.id and not own.foreign
        assert own.entry["sign_key"] == bravo.keyring.sign_key_id
        assert c.watch_log().events == []  # the state remembers where it stopped


async def test_the_stream_asks_once_more_for_a_proof_an_event_left_out(hub: Hub) -> None:
    ids = two_shares(hub)
    c, proxy = hub.client("bravo", stream=StreamEdit(strip_proof))
    with c:
        stream = c.stream(0)
        got = []
        try:
            while not set(ids) <= {i.share_id for i in got}:
                got.append(await asyncio.wait_for(stream.__anext__(), 30))
        finally:
            await stream.aclose()
    assert all(i.log_index is not None for i in got)
    assert any(f"/api/v1/shares/{ids[0]}".encode() in body for body in proxy.sent)


# -- hybrid suites: a node that strips the post-quantum half ------------------------------

def test_a_stripped_composite_signature_is_refused(hub: Hub) -> None:
    """The node serves alpha's hybrid-signed share with the composite signature cut to
    its Ed25519 half and the header relabelled ed25519: the SDK refuses it."""
    from vigil.crypto.keys import ALG_ED25519

    with hub.client("alpha")[0] as a:
        sid = a.publish(bundle(canary()), tlp="amber", to=["member:bravo"])["id"]
    kr = hub.node.members["alpha"].keyring
    assert kr.sign_key_id.startswith("ed25519+mldsa65:")
    ed_half = kr.sign_public[1952:]

    def strip(doc: Any) -> Any:
        sig = b64u_decode(doc["signature"])
        doc["header"]["key"] = key_id(ALG_ED25519, ed_half)
        doc["signature"] = b64u(sig[3309:])
        return doc

    b, _ = hub.client("bravo", only(f"/api/v1/shares/{sid}", strip))
    with b, pytest.raises(CryptoError) as info:
        b.get(sid)
    assert info.value.code == "crypto.unknown_key"
    with hub.client("bravo")[0] as b2:
        assert b2.get(sid).verified


def test_a_member_that_requires_hybrid_refuses_classical_shares(hub: Hub) -> None:
    """The member's own rule, on its client: a share the node accepted but that is not
    hybrid (attested by the node's Ed25519 key) is refused; without the rule it opens."""
    alpha, m = hub.node.members["alpha"], hub.node.members["bravo"]
    with Client(hub.srv.url, alpha.token, None, log_state=hub.tmp / "a-nokeys.json") as a:
        sid = a.publish(bundle(canary()), tlp="amber", to=["member:bravo"])["id"]
    with Client(hub.srv.url, m.token, m.keyring, log_state=hub.tmp / "b-any.json") as b:
        assert b.get(sid).verified
    with Client(hub.srv.url, m.token, m.keyring, log_state=hub.tmp / "b-hyb.json",
                require_hybrid=True) as b:
        with pytest.raises(PolicyDenied) as info:
            b.get(sid)
        assert info.value.code == "policy.suite_required"
        with hub.client("alpha")[0] as a2:
            sid2 = a2.publish(bundle(canary()), tlp="amber", to=["member:bravo"])["id"]
        assert b.get(sid2).verified  # hybrid end to end: accepted
