"""A received batch is checked item by item and its shares stored together in one
transaction: one bad item is refused alone, nothing is acknowledged before it is
committed, and the shares stored together land as they would one by one."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from tests.federation.pairs import (
    Node,
    batch,
    cursor,
    inbox_ids,
    publish,
    quarantined,
    resign,
    sync,
)

from vigil.errors import Conflict, CryptoError
from vigil.federation import codec, kinds, prepared, receiver
from vigil.federation.batches import build_batch
from vigil.log.checkpoint import verify_checkpoint
from vigil.log.entries import entry_bytes, share_entry
from vigil.log.merkle import leaf_hash, verify_inclusion
from vigil.node import accountability
from vigil.storage import federation as q

TO = ["member:bravo@berlin", "member:bravo2@berlin"]


def share_item(data: dict[str, Any], sid: str) -> int:
    """The place in ``data``'s items of the share ``sid``."""
    return next(k for k, body in enumerate(data["bodies"])
                if body.get("envelope", {}).get("header", {}).get("id") == sid)


def positions(n: Node, member: str, table: str) -> list[int]:
    return [int(r[0]) for r in n.ex.store.read(lambda sql: sql.execute(
        f"SELECT pos FROM {table} WHERE member_id=? ORDER BY pos",
        (n.id(member),)).fetchall())]


def test_one_bad_item_among_good_ones_is_refused_alone(pair: tuple[Node, Node]) -> None:
    a, b = pair
    sids = [publish(a, "alpha", TO) for _ in range(8)]
    sync(a, b)
    data = batch(a, b)
    k = share_item(data, sids[3])
    data["bodies"][k]["envelope"]["header"]["themes"] = ["cyber"]  # not what alpha signed
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    bad = data["batch"]["items"][k]["dseq"]
    assert got.quarantined == [bad]
    assert got.ack["ack"]["cursor"] == data["batch"]["to"] == cursor(b, a)
    assert quarantined(b)[0]["code"] == "fed.bad_originator_signature"
    good = sids[:3] + sids[4:]
    assert b.ex.store.get_share(sids[3]) is None
    for m in ("bravo", "bravo2"):
        # every good share once, in the order sent, at the member's next positions
        assert inbox_ids(b, m)[-len(good):] == good and sids[3] not in inbox_ids(b, m)
        got_pos = positions(b, m, "inbox")  # (TAXII reads these positions too)
        assert got_pos == list(range(1, len(got_pos) + 1)), m
    # each stored share has its entry in this node's log, in the order sent, and its
    # proof there verifies
    refs = b.ex.log.share_refs(good)
    assert [refs[s].index for s in good] == sorted(refs[s].index for s in good)
    size = b.ex.log.size()
    for s in good:
        idx = refs[s].index
        leaf = dict(b.ex.log.entries(idx, idx + 1))[idx]
        verify_inclusion(leaf_hash(leaf), idx, size, b.ex.log.inclusion(idx, size),
                         b.ex.log.root(size))


def test_the_shares_of_a_batch_reach_streams_on_one_checkpoint(pair: tuple[Node, Node]
                                                              ) -> None:
    """What a member's stream or page sends with each share of a received batch (its log
    place) rests on one checkpoint, signed once for the batch, and verifies there."""
    a, b = pair
    sids = [publish(a, "alpha", TO) for _ in range(6)]
    sync(a, b)
    receiver.receive(b.ex, b.peers["athens"], batch(a, b))
    refs = b.ex.log.share_refs(sids)
    assert len({refs[s].checkpoint for s in sids}) == 1
    cp = verify_checkpoint(refs[sids[0]].checkpoint, b.ex.log.origin, b.ex.log.public_raw)
    assert cp.size == b.ex.log.size()
    for s in sids:
        got = b.ex.store.get_share(s)
        assert got is not None
        verify_inclusion(leaf_hash(entry_bytes(share_entry(got[0]))), refs[s].index, cp.size,
                         list(refs[s].proof), cp.root)


def test_a_large_batch_is_checked_on_two_threads_with_the_same_outcome(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """From ``prepared.SPLIT`` shares on, a batch's shares are checked on two threads:
    every share gets its outcome ahead of the transaction, a bad share in either half is
    refused alone, and the rest are stored in order."""
    a, b = pair
    monkeypatch.setattr(prepared, "SPLIT", 4)
    sids = [publish(a, "alpha", TO) for _ in range(9)]
    sync(a, b)
    data = batch(a, b)
    bad = [share_item(data, sids[2]), share_item(data, sids[7])]  # one in each half
    for k in bad:
        data["bodies"][k]["envelope"]["header"]["themes"] = ["cyber"]
    data = resign(a, data)
    threads: list[str] = []
    real = prepared._prepare

    def counted(*args: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(prepared, "_prepare", counted)
    ahead = receiver.check_ahead(b.ex, b.peers["athens"], data)
    assert len(threads) == 3 and sum(t.startswith("fed-check") for t in threads) == 1
    outcomes = {k: ahead.ready[id(body)].signed for k, body in enumerate(data["bodies"])
                if id(body) in ahead.ready}
    assert {k for k, (_, fault) in outcomes.items() if fault is not None} == set(bad)
    assert len(outcomes) == len(sids)
    got = receiver.receive(b.ex, b.peers["athens"], data, ahead)
    assert got.quarantined == sorted(data["batch"]["items"][k]["dseq"] for k in bad)
    good = [s for n, s in enumerate(sids) if n not in (2, 7)]
    assert inbox_ids(b, "bravo")[-len(good):] == good


def test_nothing_is_acknowledged_that_is_not_committed(pair: tuple[Node, Node],
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    a, b = pair
    sids = [publish(a, "alpha", TO) for _ in range(5)]
    sync(a, b)
    data = batch(a, b)
    before, size = cursor(b, a), b.ex.log.size()

    def failing(sql: Any, env: Any, recipients: tuple[str, ...]) -> None:
        if env.id == sids[-1]:
            raise RuntimeError("the disk is full")

    b.ex.share_tx_hooks.append(failing)
    try:
        with pytest.raises(RuntimeError):
            receiver.receive(b.ex, b.peers["athens"], data)
    finally:
        b.ex.share_tx_hooks.remove(failing)
    # none of the batch is kept when storing its last share fails
    assert cursor(b, a) == before and b.ex.log.size() == size
    assert all(b.ex.store.get_share(s) is None for s in sids)
    assert not set(sids) & set(inbox_ids(b, "bravo"))
    # when the ack is made, a reader sees every share it acknowledges
    made = codec.make_ack
    seen: list[tuple[int, list[bool]]] = []

    def ack(*args: Any, **kw: Any) -> dict[str, Any]:
        seen.append((b.ex.store.read(lambda sql: q.cursor(sql, a.ex.node_id))[0],
                     [b.ex.store.get_share(s) is not None for s in sids]))
        return made(*args, **kw)

    monkeypatch.setattr(codec, "make_ack", ack)
    got = receiver.receive(b.ex, b.peers["athens"], data)
    assert seen == [(data["batch"]["to"], [True] * len(sids))]
    assert got.ack["ack"]["cursor"] == data["batch"]["to"]
    assert inbox_ids(b, "bravo")[-len(sids):] == sids


def test_a_recall_finds_its_share_stored_by_the_same_batch(pair: tuple[Node, Node]) -> None:
    a, b = pair
    sid = publish(a, "alpha", TO)
    sync(a, b)
    with_share = batch(a, b)
    body = with_share["bodies"][share_item(with_share, sid)]
    accountability.recall(a.ex, a.id("alpha"), sid)
    sync(a, b)
    data = batch(a, b)  # the share (gone now), then its recall
    k = next(i for i, it in enumerate(data["batch"]["items"]) if it["kind"] == "share"
             and data["bodies"][i].get("share") == sid)
    assert data["batch"]["items"][-1]["kind"] == "recall"
    data["bodies"][k] = body  # the share as it left before the recall
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined == []
    env, state = b.ex.store.get_share(sid) or (None, None)
    assert state is not None and state.recalled and env is not None and env.payload == b""


def test_the_same_share_twice_in_a_batch_is_stored_once(pair: tuple[Node, Node]) -> None:
    a, b = pair
    first = publish(a, "alpha", TO)
    second = publish(a, "alpha", TO)
    sync(a, b)
    data = batch(a, b)
    data["bodies"][share_item(data, second)] = data["bodies"][share_item(data, first)]
    got = receiver.receive(b.ex, b.peers["athens"], resign(a, data))
    assert got.quarantined == []
    assert inbox_ids(b, "bravo").count(first) == 1 and second not in inbox_ids(b, "bravo")
    assert [p.envelope.id for p in got.published] == [first]


def test_a_signature_checked_ahead_counts_under_that_key_only(
        pair: tuple[Node, Node]) -> None:
    a, b = pair
    sid = publish(a, "alpha", TO)
    sync(a, b)
    data = batch(a, b)
    pre = kinds.Prepared(data["bodies"][share_item(data, sid)])
    pre.verify(a.ex.member(a.id("alpha")).sign_key)
    with pytest.raises(CryptoError) as e:
        pre.verify(b.ex.member(b.id("bravo")).sign_key)
    assert e.value.code == "fed.bad_originator_signature"
    pre.verify(a.ex.member(a.id("alpha")).sign_key)  # checked again under alpha's key


async def test_a_batch_pushed_ahead_waits_for_the_one_before_it(
        pair: tuple[Node, Node]) -> None:
    """The second of two batches in flight, here first, is stored after the first
    (not refused as a gap); a batch after a gap no batch here fills is refused."""
    a, b = pair
    sids = [publish(a, "alpha", TO) for _ in range(4)]
    sync(a, b)
    dest = b.ex.node_id
    acked = a.ex.store.read(lambda sql: q.link(sql, dest))[1]
    first = build_batch(a.ex, dest, acked, 2)
    second = build_batch(a.ex, dest, first["batch"]["to"], 2)
    athens = b.peers["athens"]
    ahead = asyncio.ensure_future(receiver.receive_in_turn(b.ex, athens, second))
    await asyncio.wait({ahead}, timeout=0.1)  # it comes first, and waits
    got1 = await receiver.receive_in_turn(b.ex, athens, first)
    got2 = await ahead
    assert (got1.ack["ack"]["cursor"], got2.ack["ack"]["cursor"]) == (
        first["batch"]["to"], second["batch"]["to"])
    assert inbox_ids(b, "bravo")[-len(sids):] == sids
    publish(a, "alpha", TO)
    publish(a, "alpha", TO)
    beyond = build_batch(a.ex, dest, second["batch"]["to"] + 1)  # one item skipped
    with pytest.raises(Conflict) as e:
        await receiver.receive_in_turn(b.ex, athens, beyond)
    assert e.value.code == "fed.gap" and e.value.detail["cursor"] == second["batch"]["to"]


async def test_a_batch_waiting_its_turn_is_checked_while_it_waits(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks of a batch that need nothing of the store are made while it waits for
    the one before it (so they overlap that one's transaction), and not again after."""
    a, b = pair
    sids = [publish(a, "alpha", TO) for _ in range(4)]
    sync(a, b)
    dest = b.ex.node_id
    acked = a.ex.store.read(lambda sql: q.link(sql, dest))[1]
    first = build_batch(a.ex, dest, acked, 2)
    second = build_batch(a.ex, dest, first["batch"]["to"], 2)
    athens = b.peers["athens"]
    checked: list[int] = []
    real = receiver.check_ahead

    def counted(ex: Any, peer: Any, data: Any) -> receiver.Ahead:
        got = real(ex, peer, data)
        checked.append(int(got.head["from"]))
        return got

    monkeypatch.setattr(receiver, "check_ahead", counted)
    monkeypatch.setattr(receiver, "TURN_GRACE", 600.0)  # it waits however slow the machine
    monkeypatch.setattr(receiver, "TURN_WAIT", 600.0)
    later = asyncio.ensure_future(receiver.receive_in_turn(b.ex, athens, second))
    for _ in range(600):  # it waits for the first, with its checks made
        if checked:
            break
        await asyncio.sleep(0.05)
    assert checked == [second["batch"]["from"]] and not later.done()
    assert cursor(b, a) < first["batch"]["from"]
    await receiver.receive_in_turn(b.ex, athens, first)
    got = await later
    assert got.ack["ack"]["cursor"] == second["batch"]["to"]
    assert checked == [second["batch"]["from"], first["batch"]["from"]]
    assert inbox_ids(b, "bravo")[-len(sids):] == sids


async def test_batches_beyond_what_a_sender_keeps_in_flight_do_not_wait(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """A peer that holds more batches here than a sender keeps in flight does not get
    the next one waited for (it is answered at once): it cannot keep the node polling."""
    _, b = pair
    athens = b.peers["athens"]
    monkeypatch.setattr(receiver, "TURN_WAIT", 600.0)
    turns = b.ex.attach(receiver.Turns, receiver.Turns)[0]
    turns.held[athens.node] = receiver.HELD_MAX + 1  # this one and those held already
    try:  # far past the cursor: without the bound it would wait TURN_WAIT
        await asyncio.wait_for(turns.wait(b.ex, athens.node, 10**9), 60)
    finally:
        turns.held[athens.node] = 0
