"""Signed receipts and recall over the REST API and the SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.node.helpers import Node, build_node, canary_bundle, db_hits

from vigil.client import Client, InboxItem
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.crypto.sign import TAG_RECALL, TAG_RECEIPT, verify
from vigil.model import ShareState
from vigil.policy import decide_read, decide_recall_notice
from vigil.protocol import receipts
from vigil.testing import ServerProcess, make_node
from vigil.testing.node import scan
from vigil.testing.stix import canary_bundle as bundle_with


@pytest.fixture(params=["sqlite", "postgresql"])
def n(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Node]:
    store = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    yield from build_node(tmp_path / "node", store)


def signed_receipt(n: Node, who: str, share: str, what: str, **change: Any
                   ) -> dict[str, Any]:
    kr = n.node.members[who].keyring
    obj = receipts.receipt_object(share, kr.member_id, what, kr.sign_key_id)
    sig = receipts.sign_receipt(obj, kr.sign_private)
    obj.update(change)
    return {"receipt": obj, "signature": b64u(sig)}


# -- receipts ------------------------------------------------------------------------------

def test_sdk_receipts_are_signed_verified_and_logged(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("r"), tlp="amber", to="group1")
    size0 = n.ex.log.size()
    with n.sdk("delta") as delta:
        assert [i.share_id for i in delta.inbox()] == [sid]   # sends "received"
        share = delta.get(sid)                                # opens it: sends "opened"
        assert share.opened_by == "client"
    view = n.http.get(f"/api/v1/shares/{sid}/receipts", headers=n.h("alpha")).json()
    by = {r["member"]: r for r in view["recipients"]}
    assert set(by) == {n.id("bravo"), n.id("delta")}
    assert by[n.id("delta")]["received"] is not None and by[n.id("delta")]["opened"] is not None
    assert by[n.id("bravo")]["received"] is None and by[n.id("bravo")]["opened"] is None
    assert view["not_received"] == [n.id("bravo")] and view["not_opened"] == [n.id("bravo")]
    assert view["recall"] is None and view["not_acknowledged"] is None
    assert n.ex.log.size() == size0 + 2
    delta_key = n.ex.directory().members[n.id("delta")].sign_key
    for what in ("received", "opened"):
        entry = n.log_entry(by[n.id("delta")][what]["log_index"])
        assert entry["kind"] == "receipt" and entry["originator"] == n.id("alpha")
        assert entry["receipt"]["what"] == what and entry["member"] == n.id("delta")
        verify(TAG_RECEIPT, entry["receipt"], b64u_decode(entry["signature"]), delta_key)
    # a recipient does not see the originator's view; nor does anyone else
    for who in ("delta", "charlie"):
        r = n.http.get(f"/api/v1/shares/{sid}/receipts", headers=n.h(who))
        assert r.status_code == 404 and r.json()["error"]["code"] == "share.not_found"


def test_receipt_is_idempotent_per_share_member_what(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("i"), tlp="amber", to="group1")
    body = signed_receipt(n, "delta", sid, "received")
    first = n.http.post(f"/api/v1/shares/{sid}/receipts", json=body, headers=n.h("delta"))
    size = n.ex.log.size()
    again = n.http.post(f"/api/v1/shares/{sid}/receipts",
                        json=signed_receipt(n, "delta", sid, "received"), headers=n.h("delta"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["log_index"] == first.json()["log_index"]
    assert again.json()["new"] is False
    assert n.ex.log.size() == size and n.count("receipts") == 1


def test_bad_receipts_get_stable_codes_and_store_nothing(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("b"), tlp="amber", to="group1")
    good = signed_receipt(n, "delta", sid, "received")
    flipped = dict(good, signature=b64u(bytes([b64u_decode(good["signature"])[0] ^ 1])
                                        + b64u_decode(good["signature"])[1:]))
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("bad signature", "delta", flipped, 422, "crypto.bad_signature"),
        ("altered after signing", "delta",
         signed_receipt(n, "delta", sid, "received", at="2026-01-01T00:00:00.000Z"),
         422, "crypto.bad_signature"),
        ("signed by another member's key", "delta",
         {"receipt": signed_receipt(n, "delta", sid, "received")["receipt"],
          "signature": signed_receipt(n, "bravo", sid, "received")["signature"]},
         422, "crypto.bad_signature"),
        ("another member's receipt", "delta", signed_receipt(n, "bravo", sid, "received"),
         403, "receipt.wrong_member"),
        ("non-recipient", "charlie", signed_receipt(n, "charlie", sid, "received"),
         404, "share.not_found"),
        ("originator", "alpha", signed_receipt(n, "alpha", sid, "opened"),
         403, "receipt.not_recipient"),
        ("missing share", "delta",
         signed_receipt(n, "delta", f"share--{uuid.uuid4()}", "received"), 404,
         "share.not_found"),
        ("recall-ack of a live share", "delta", signed_receipt(n, "delta", sid, "recall-ack"),
         409, "receipt.not_recalled"),
        ("unknown what", "delta", signed_receipt(n, "delta", sid, "liked"), 400,
         "receipt.malformed"),
        ("extra field", "delta", signed_receipt(n, "delta", sid, "received", extra=1), 400,
         "receipt.malformed"),
        ("key of another member", "delta", signed_receipt(
            n, "delta", sid, "received",
            key=n.node.members["bravo"].keyring.sign_key_id), 422, "crypto.unknown_key"),
        ("short signature", "delta", dict(good, signature=b64u(b"x" * 10)), 400,
         "receipt.malformed"),
    ]
    size = n.ex.log.size()
    for what, who, body, status, code in cases:
        share = body["receipt"]["share"]
        r = n.http.post(f"/api/v1/shares/{share}/receipts", json=body, headers=n.h(who))
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), what
    other = n.http.post(f"/api/v1/shares/{sid}/receipts",
                        json=signed_receipt(n, "delta", f"share--{uuid.uuid4()}", "received"),
                        headers=n.h("delta"))
    assert other.json()["error"]["code"] == "receipt.share_mismatch"
    assert n.count("receipts") == 0 and n.ex.log.size() == size


def test_receipt_signed_in_the_future_is_refused(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("f"), tlp="amber", to="group1")
    kr = n.node.members["delta"].keyring
    obj = receipts.receipt_object(sid, kr.member_id, "received", kr.sign_key_id,
                             at="2099-01-01T00:00:00.000Z")
    body = {"receipt": obj, "signature": b64u(receipts.sign_receipt(obj, kr.sign_private))}
    r = n.http.post(f"/api/v1/shares/{sid}/receipts", json=body, headers=n.h("delta"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "receipt.bad_time"
    assert n.count("receipts") == 0


def test_held_member_reading_a_share_signs_opened_with_the_held_key(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("h"), tlp="amber", to="group1")
    r = n.http.get(f"/api/v1/shares/{sid}/content", headers=n.h("bravo"))
    assert r.status_code == 200
    n.http.get(f"/api/v1/shares/{sid}", headers=n.h("bravo"))  # once only
    with n.sdk("alpha") as alpha:
        view = alpha.receipts(sid)
    bravo = next(r for r in view["recipients"] if r["member"] == n.id("bravo"))
    assert bravo["opened"] is not None and view["not_opened"] == [n.id("delta")]
    entry = n.log_entry(bravo["opened"]["log_index"])
    verify(TAG_RECEIPT, entry["receipt"], b64u_decode(entry["signature"]),
           n.ex.directory().members[n.id("bravo")].sign_key)
    assert n.count("receipts") == 1


def test_sdk_without_keyring_or_with_receipts_off_sends_none(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("o"), tlp="amber", to="group1")
    with n.sdk("delta") as delta:
        delta.send_receipts = False
        list(delta.inbox())
        delta.get(sid)
    assert n.count("receipts") == 0


# -- recall --------------------------------------------------------------------------------

def test_recall_removes_the_payload_everywhere_and_collects_every_ack(
        n: Node, tmp_path: Path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex}"
    hooked: list[str] = []
    n.ex.purge_tx_hooks.append(lambda sql, share_id: hooked.append(share_id))
    with n.sdk("delta") as delta:
        sid = delta.publish(canary_bundle(canary), tlp="green")["id"]  # plain, to all
        sealed = delta.publish(bundle_with("s"), tlp="amber", to=["group1"])["id"]
    stored = n.ex.store.get_share(sealed)
    assert stored is not None
    ciphertext, wrap = stored[0].payload[100:140], stored[0].wraps[0].blob
    readers = {who: n.sdk(who) for who in ("alpha", "bravo", "charlie")}
    dropped: dict[str, list[str]] = {who: [] for who in readers}
    cursors = {}
    for who, c in readers.items():
        c.on_recall.append(dropped[who].append)
        it = c.inbox()
        assert sid in [i.share_id for i in it]
        cursors[who] = it.cursor
        assert canary.encode() in (c.get(sid).bundle or b"")
    assert db_hits(n.ex, canary.encode()) != []   # the scan finds what is there

    with n.sdk("delta") as delta:
        res = delta.recall(sid)
        assert res["new"] is True
        delta.recall(sealed)
        assert delta.recall(sid)["new"] is False    # recalling again changes nothing
    assert hooked == [sid, sealed]

    # every recipient is told again, after its cursor, without payload or wraps
    for who, c in readers.items():
        items = list(c.inbox(cursors[who]))
        assert [i.share_id for i in items if i.share_id == sid] == [sid]
        item = next(i for i in items if i.share_id == sid)
        assert item.state["recalled"] is True and item.envelope.payload == b""
        assert item.envelope.wraps == ()
        assert dropped[who] == [sid] + ([sealed] if who in ("alpha", "bravo") else [])
        env, state = c.envelope(sid)       # GET of the share: the same notice
        assert state["recalled"] is True and env.payload == b"" and env.wraps == ()
        assert c.get(sid).bundle is None
        r = n.http.get(f"/api/v1/shares/{sid}/content", headers=n.h(who))
        assert r.status_code == 404
        c.close()
    notice = n.http.get(f"/api/v1/shares/{sealed}", headers=n.h("bravo")).json()
    assert notice["payload"] == "" and notice["wraps"] == [] and notice["state"]["recalled"]
    assert n.http.get(f"/api/v1/shares/{sealed}", headers=n.h("charlie")).status_code == 404

    with n.sdk("delta") as delta:
        view = delta.receipts(sid)
        assert view["state"]["recalled"] is True
        assert view["not_acknowledged"] == []
        assert {r["member"] for r in view["recipients"] if r["recall_ack"]} == \
            {n.id(w) for w in readers}
        assert view["recall"]["signed_by"] == "originator"
        s = delta.get(sid)   # the originator still sees the header, not the payload
        assert s.bundle is None and s.state["recalled"] is True
        gone = n.http.get(f"/api/v1/shares/{sid}/content", headers=n.h("delta"))
        assert (gone.status_code, gone.json()["error"]["code"]) == (410, "share.recalled")
        view2 = delta.receipts(sealed)
        assert sorted(view2["not_received"]) == [] and view2["not_acknowledged"] == []
        assert {r["member"] for r in view2["recipients"]} == {n.id("alpha"), n.id("bravo")}

    entry = n.log_entry(res["log_index"])
    assert entry["kind"] == "recall" and sorted(entry["to"]) == sorted(
        n.id(w) for w in readers)
    verify(TAG_RECALL, entry["recall"], b64u_decode(entry["signature"]),
           n.ex.directory().members[n.id("delta")].sign_key)

    # the canary scan: no table, no column, no file of the store holds the payload (a
    # feature that copies payload content drops it in its Exchange.purge_tx_hooks entry)
    for needle in (canary.encode(), ciphertext, wrap):
        assert db_hits(n.ex, needle) == [], needle
    if n.ex.store.dialect == "sqlite":
        files = [p for p in n.node.data.iterdir() if p.name.startswith("vigil.db")]
        assert any(p.name == "vigil.db" for p in files)
        for needle in (canary.encode(), ciphertext, wrap):
            assert scan(files, needle) == [], needle


def test_recall_by_anyone_but_the_originator_is_404(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("x"), tlp="amber", to="group1")
    size = n.ex.log.size()
    for who in ("bravo", "charlie", "delta"):
        r = n.http.post(f"/api/v1/shares/{sid}/recall", headers=n.h(who))
        missing = n.http.post(f"/api/v1/shares/share--{uuid.uuid4()}/recall", headers=n.h(who))
        assert r.status_code == missing.status_code == 404
        assert r.json() == {"error": {**missing.json()["error"],
                                      "message": r.json()["error"]["message"]}}
        assert r.json()["error"]["code"] == "share.not_found"
    got = n.ex.store.get_share(sid)
    assert got is not None and got[1] == ShareState() and got[0].payload != b""
    assert n.ex.log.size() == size


def test_recall_signed_by_the_node_for_held_and_attested_shares(n: Node) -> None:
    held = n.publish("alpha", bundle_with("held"), tlp="amber", to="group1")
    with n.sdk("delta", keyring=False) as plain_delta:
        attested = plain_delta.publish(bundle_with("att"), tlp="amber", to=["group1"])["id"]
        r = plain_delta.recall(attested)
    assert n.log_entry(r["log_index"])["recall"]["key"] == n.ex.node_key_id
    verify(TAG_RECALL, n.log_entry(r["log_index"])["recall"],
           b64u_decode(n.log_entry(r["log_index"])["signature"]), n.ex.node_key_raw)
    r2 = n.http.post(f"/api/v1/shares/{held}/recall", headers=n.h("alpha"))
    assert r2.status_code == 201
    entry = n.log_entry(r2.json()["log_index"])
    verify(TAG_RECALL, entry["recall"], b64u_decode(entry["signature"]),
           n.ex.directory().members[n.id("alpha")].sign_key)
    view = n.http.get(f"/api/v1/shares/{attested}/receipts", headers=n.h("delta")).json()
    assert view["recall"]["signed_by"] == "node"


def test_a_client_signed_share_needs_a_signed_recall(n: Node) -> None:
    with n.sdk("delta") as delta:
        sid = delta.publish(bundle_with("c"), tlp="amber", to=["group1"])["id"]
    r = n.http.post(f"/api/v1/shares/{sid}/recall", headers=n.h("delta"))
    assert r.status_code == 400 and r.json()["error"]["code"] == "recall.signature_required"
    kr = n.node.members["delta"].keyring
    obj = receipts.recall_object(sid, kr.member_id, kr.sign_key_id)
    sig = receipts.sign_recall(obj, kr.sign_private)
    for body, code in [
        ({"recall": dict(obj, at="2026-01-01T00:00:00.000Z"), "signature": b64u(sig)},
         "crypto.bad_signature"),
        ({"recall": dict(obj, share=f"share--{uuid.uuid4()}"), "signature": b64u(sig)},
         "recall.share_mismatch"),
        ({"recall": obj}, "recall.malformed"),
    ]:
        bad = n.http.post(f"/api/v1/shares/{sid}/recall", json=body, headers=n.h("delta"))
        assert bad.json()["error"]["code"] == code
    got = n.ex.store.get_share(sid)
    assert got is not None and not got[1].recalled and n.count("recalls") == 0
    ok = n.http.post(f"/api/v1/shares/{sid}/recall",
                     json={"recall": obj, "signature": b64u(sig)}, headers=n.h("delta"))
    assert ok.status_code == 201 and ok.json()["key"] == kr.sign_key_id


def test_recall_notice_is_for_active_recipients_of_recalled_live_shares(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("p"), tlp="amber", to="group1")
    got = n.ex.store.get_share(sid)
    assert got is not None
    h, d = got[0].header, n.ex.directory()
    recalled, purged = ShareState(recalled=True), ShareState(recalled=True, purged=True)
    assert decide_recall_notice(d, n.id("bravo"), h, recalled).reason == "ok.recall_notice"
    assert decide_recall_notice(d, n.id("bravo"), h, ShareState()).reason == \
        "policy.not_recalled"
    assert decide_recall_notice(d, n.id("bravo"), h, purged).reason == "policy.purged"
    assert decide_recall_notice(d, n.id("charlie"), h, recalled).reason == \
        "policy.not_recipient"
    assert decide_recall_notice(d, n.id("alpha"), h, recalled).reason == "policy.not_recipient"
    assert not decide_read(d, n.id("bravo"), h, recalled, now="2026-11-29T00:00:00.000Z")


async def _until_recall(client: Client, after: int) -> list[InboxItem]:
    got: list[InboxItem] = []
    stream = client.stream(after)
    async for item in stream:
        got.append(item)
        if item.state["recalled"]:
            break
    await stream.aclose()
    return got


def test_live_server_streams_the_recall_and_the_sdk_acknowledges(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True, "delta": False})
    a, d = node.members["alpha"], node.members["delta"]
    with ServerProcess(node.data) as srv, Client(srv.url, a.token) as ca, \
            Client(srv.url, d.token, d.keyring) as cd:
        sid = ca.publish(bundle_with("live"), tlp="amber", to=["member:delta"])["id"]
        first = asyncio.run(asyncio.wait_for(anext(aiter(cd.stream(0))), 10))
        assert first.share_id == sid and not first.state["recalled"]
        assert ca.receipts(sid)["not_received"] == []         # the stream sent "received"
        ca.recall(sid)
        items = asyncio.run(asyncio.wait_for(_until_recall(cd, first.seq), 10))
        assert [(i.share_id, i.state["recalled"]) for i in items] == [(sid, True)]
        assert items[0].envelope.payload == b"" and items[0].seq > first.seq
        assert ca.receipts(sid)["not_acknowledged"] == []     # and then "recall-ack"
        with httpx.stream("GET", f"{srv.url}/api/v1/stream", timeout=10, headers={
                "Authorization": f"Bearer {d.token}", "Last-Event-ID": str(first.seq)}) as r:
            lines = []
            for line in r.iter_lines():
                lines.append(line)
                if line.startswith("data:"):
                    break
        assert f"id: {items[0].seq}" in lines and "event: recall" in lines


def test_a_share_marked_recalled_without_a_recall_is_finished_by_one(n: Node) -> None:
    sid = n.publish("alpha", bundle_with("m"), tlp="amber", to="group1")
    n.ex.store.write(lambda sql: sql.execute("UPDATE shares SET recalled=? WHERE id=?",
                                             (True, sid)))
    r = n.http.post(f"/api/v1/shares/{sid}/recall", headers=n.h("alpha"))
    assert r.status_code == 201 and r.json()["new"] is True
    got = n.ex.store.get_share(sid)
    assert got is not None and got[0].payload == b"" and got[0].wraps == ()
    assert n.log_entry(r.json()["log_index"])["kind"] == "recall"
    again = n.http.post(f"/api/v1/shares/{sid}/recall", headers=n.h("alpha"))
    assert again.status_code == 200 and again.json()["log_index"] == r.json()["log_index"]
