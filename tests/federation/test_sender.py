"""The push side of a link: a publish tells its link which row to send, and the next
batch is ready when the one in flight is acked."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

import httpx
import orjson
import pytest
from tests.federation.pairs import Node, publish

from vigil.errors import VigilError
from vigil.federation import batches, probing, receiver, sender
from vigil.federation.sender import Link, Service
from vigil.storage import federation as q


async def _ring(members: Iterable[str]) -> None:
    return None


async def test_a_publish_tells_its_link_the_row_it_queued(pair: tuple[Node, Node]) -> None:
    a, b = pair
    svc = Service(a.ex, a.node.settings, _ring)
    svc._loop = asyncio.get_running_loop()
    link = svc.links[b.ex.node_id] = Link(svc, a.peers["berlin"])
    seen: list[int] = []

    def inside(sql: Any, env: Any, recipients: tuple[str, ...]) -> None:
        # still inside the publishing transaction: what a reader sees of the outbox
        seen.append(a.ex.store.read(lambda r: q.link(r, b.ex.node_id))[0])

    a.ex.share_tx_hooks.append(inside)
    await asyncio.to_thread(publish, a, "alpha", ["member:bravo@berlin"])
    await asyncio.sleep(0)  # the wake is handed to this loop from the writer
    head = a.ex.store.read(lambda sql: q.link(sql, b.ex.node_id))[0]
    # told of the new row before it was visible, and woken to wait for its commit
    assert seen == [head - 1]
    assert link.told == head and link.wake.is_set()
    assert await link._committed()
    a.ex.share_tx_hooks.remove(inside)
    await svc.stop()


async def test_the_next_batches_leave_before_the_ack_of_the_first(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to sender.WINDOW batches in flight: the first is answered only once the next
    one was sent (the destination stores that one after the first), and the acks are
    taken in order."""
    a, b = pair
    for _ in range(5):
        publish(a, "alpha", ["member:bravo@berlin"])
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    events: list[tuple[str, int]] = []
    real = sender.build_batch
    second = asyncio.Event()

    def build(ex: Any, dest: str, after: int, limit: int = 2) -> dict[str, Any]:
        events.append(("build", after))
        return real(ex, dest, after, 2)  # batches of 2 items

    async def post(method: str, path: str, body: bytes = b"",
                   params: Any = None) -> httpx.Response:
        data = orjson.loads(body)
        posted = [e for e in events if e[0] == "post"]
        events.append(("post", int(data["batch"]["from"])))
        if not posted:  # the first batch: answered once the second has left
            await asyncio.wait_for(second.wait(), 20)
        else:
            second.set()
        got = await receiver.receive_in_turn(b.ex, b.peers["athens"], data)
        events.append(("ack", int(got.ack["ack"]["cursor"])))
        return httpx.Response(200, content=orjson.dumps(got.ack))

    monkeypatch.setattr(sender, "build_batch", build)
    monkeypatch.setattr(link, "_request", post)
    link.state = "up"
    while await link.push_once():
        pass
    head, acked, *_ = a.ex.store.read(lambda sql: q.link(sql, b.ex.node_id))
    assert acked == head
    acks = [n for e, n in events if e == "ack"]
    builds = [n for e, n in events if e == "build"]
    assert builds == sorted(set(builds)) and len(acks) >= 3  # each built once
    assert acks == sorted(acks)
    # each batch after the first was built and sent before the ack of the one before it
    for k in range(1, len(acks)):
        assert events.index(("build", acks[k - 1])) < events.index(("ack", acks[k - 1]))
        assert events.index(("post", acks[k - 1] + 1)) < events.index(("ack", acks[k - 1]))
    await link.client.aclose()
    await svc.stop()


async def test_an_answer_older_than_an_ack_of_the_round_moves_nothing_back(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch in flight answered fed.gap at a cursor before the batch acked just
    before it (another worker answered before that one was stored) does not take the
    acked cursor back; the next round goes on from it."""
    a, b = pair
    for _ in range(4):
        publish(a, "alpha", ["member:bravo@berlin"])
    dest = b.ex.node_id
    start = a.ex.store.read(lambda sql: q.link(sql, dest))[1]
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    real = sender.build_batch
    monkeypatch.setattr(sender, "build_batch",
                        lambda ex, d, after, limit=2: real(ex, d, after, 2))
    answered: list[int] = []

    async def post(method: str, path: str, body: bytes = b"",
                   params: Any = None) -> httpx.Response:
        data = orjson.loads(body)
        if not answered:
            answered.append(data["batch"]["from"])
            got = await receiver.receive_in_turn(b.ex, b.peers["athens"], data)
            return httpx.Response(200, content=orjson.dumps(got.ack))
        answered.append(data["batch"]["from"])  # answered as if the first were not stored
        return httpx.Response(409, content=orjson.dumps({"error": {
            "code": "fed.gap", "message": "gap", "detail": {"cursor": start}}}))

    monkeypatch.setattr(link, "_request", post)
    link.state = "up"
    assert await link.push_once() is True
    assert a.ex.store.read(lambda sql: q.link(sql, dest))[1] == start + 2
    await link.client.aclose()
    await svc.stop()


async def test_a_link_stops_when_a_loop_swallowed_a_cancel(pair: tuple[Node, Node]) -> None:
    """asyncio.wait_for (3.11) returns the awaitable's result when it completes as the
    cancel arrives (a wake set just then), and the link's loop goes on: stopping the
    link cancels again until its tasks end, instead of waiting for them forever."""
    a, _ = pair
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])

    async def stubborn() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # the swallowed cancel
            await asyncio.sleep(3600)
        await asyncio.sleep(3600)

    link.tasks = [asyncio.create_task(stubborn())]
    await asyncio.sleep(0)
    await asyncio.wait_for(link.stop(), 20)
    assert all(t.done() for t in link.tasks)
    await svc.stop()


async def test_a_gap_answer_that_does_not_move_the_cursor_waits_for_a_wake(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """Past a hole in the outbox the destination answers fed.gap at the link's own
    cursor: the link reports no progress (it waits for a wake or a heartbeat) instead of
    sending the same refused batch again at once; a gap answer naming another cursor
    (the destination is behind) is progress, sent again at once."""
    a, b = pair
    for _ in range(4):
        publish(a, "alpha", ["member:bravo@berlin"])
    dest = b.ex.node_id
    acked = a.ex.store.read(lambda sql: q.link(sql, dest))[1]
    rows = a.ex.store.read(lambda sql: q.pending(sql, dest, acked, 100))
    a.ex.store.write(lambda sql: sql.execute(
        "DELETE FROM fed_outbox WHERE dest=? AND dseq=?", (dest, rows[0][0])))
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    posts: list[int] = []

    async def post(method: str, path: str, body: bytes = b"",
                   params: Any = None) -> httpx.Response:
        data = orjson.loads(body)
        posts.append(int(data["batch"]["from"]))
        try:
            got = await asyncio.to_thread(receiver.receive, b.ex, b.peers["athens"], data)
        except Exception as e:
            code = getattr(e, "code", "")
            detail = getattr(e, "detail", None)
            return httpx.Response(409, content=orjson.dumps(
                {"error": {"code": code, "message": str(e), "detail": detail}}))
        return httpx.Response(200, content=orjson.dumps(got.ack))

    monkeypatch.setattr(link, "_request", post)
    link.state = "up"
    assert await link.push_once() is False
    assert posts == [acked + 2]
    assert a.ex.store.read(lambda sql: q.link(sql, dest))[1] == acked
    # the destination is behind what this node holds acked: sent again from its cursor
    a.ex.store.write(lambda sql: q.set_acked(sql, dest, acked + 3, "2026-01-01T00:00:00Z"))
    assert await link.push_once() is True
    assert a.ex.store.read(lambda sql: q.link(sql, dest))[1] == acked
    await link.client.aclose()
    await svc.stop()


async def test_a_round_starts_with_a_short_batch_and_doubles(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """After a heal the first share is stored after a short batch: a round's first
    batch holds sender.FIRST items and each next one twice the one before, up to
    sender.BATCH; every item is sent once, in order."""
    a, b = pair
    for _ in range(12):
        publish(a, "alpha", ["member:bravo@berlin"])
    dest = b.ex.node_id
    head, start, *_ = a.ex.store.read(lambda sql: q.link(sql, dest))
    monkeypatch.setattr(sender, "FIRST", 1)
    monkeypatch.setattr(batches, "BATCH", 4)  # what grown() doubles up to
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    sizes: list[int] = []

    async def post(method: str, path: str, body: bytes = b"",
                   params: Any = None) -> httpx.Response:
        data = orjson.loads(body)
        sizes.append(len(data["batch"]["items"]))
        got = await receiver.receive_in_turn(b.ex, b.peers["athens"], data)
        return httpx.Response(200, content=orjson.dumps(got.ack))

    monkeypatch.setattr(link, "_request", post)
    link.state = "up"
    assert await link.push_once() is True
    assert head - start >= 12
    # 1, 2, 4, then BATCH (4) until the head
    assert sizes[:4] == [1, 2, 4, 4] and all(s == 4 for s in sizes[3:-1])
    assert sum(sizes) == head - start
    assert a.ex.store.read(lambda sql: q.link(sql, dest))[1] == head
    await link.client.aclose()
    await svc.stop()


async def test_a_pull_round_starts_short_and_doubles(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """The destination's pull asks for sender.FIRST items first, then twice as many
    each time a pull comes back full, up to sender.BATCH; it stops at a short one."""
    a, _ = pair
    monkeypatch.setattr(sender, "FIRST", 2)
    monkeypatch.setattr(batches, "BATCH", 10)
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    asked: list[int] = []
    held = 30

    async def pull_once(limit: int = 500) -> int:
        nonlocal held
        asked.append(limit)
        got = min(limit, held)
        held -= got
        return got

    monkeypatch.setattr(link, "pull_once", pull_once)
    task = asyncio.create_task(link._pull_loop())
    link.pull_wanted.set()
    for _ in range(200):
        await asyncio.sleep(0.01)
        if held == 0 and len(asked) > 5:
            break
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # 2 + 4 + 8 + 10 = 24, then 6 of a 10: short, the round ends
    assert asked == [2, 4, 8, 10, 10]
    await link.client.aclose()
    await svc.stop()


async def test_a_heartbeat_from_a_peer_wakes_its_link_when_down(
        pair: tuple[Node, Node]) -> None:
    """A heal is noticed by whichever side's heartbeat gets through first: one that
    comes from the peer wakes this node's link to it when that link is down (waiting out
    its backoff), and leaves a link that is up alone."""
    a, b = pair
    svc = Service(a.ex, a.node.settings, _ring)
    link = svc.links[b.ex.node_id] = Link(svc, a.peers["berlin"])
    link.state = "up"
    svc.heard(b.ex.node_id)
    assert not link.wake.is_set()
    link.state = "down"
    svc.heard(b.ex.node_id)
    assert link.wake.is_set()
    svc.heard("no-such-node")  # a peer without a link here: nothing
    await svc.stop()


async def test_a_heartbeat_on_a_down_link_connects_within_the_probe_time(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """A heartbeat on a link that is not up gives its connection the probe's time (a
    silent cut hangs a connect until it runs out; the next SYN comes after it); a link
    that is up keeps the client's own timeouts."""
    a, b = pair
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    timeouts: list[Any] = []

    async def post(method: str, path: str, body: bytes = b"", params: Any = None,
                   timeout: Any = None) -> httpx.Response:
        timeouts.append(timeout)
        got = await asyncio.to_thread(receiver.heartbeat, b.ex, b.peers["athens"],
                                      orjson.loads(body))
        return httpx.Response(200, content=orjson.dumps(got))

    monkeypatch.setattr(link, "_request", post)
    link.state = "down"
    await link.heartbeat_once()
    assert link.state == "up"
    await link.heartbeat_once()
    # the first probe after a fall (vigil.federation.probing)
    assert timeouts[0] is not None and timeouts[0].connect == probing.CONNECT
    assert timeouts[1] is None
    await link.client.aclose()
    await svc.stop()


async def test_a_push_begun_on_a_down_link_begins_again_when_it_comes_up(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """A push round begun while the link is down (its connection hangs on the cut) is
    given up as soon as the link comes up (a probe got through), and the next round
    sends at once on the live link instead of waiting for the hung connect."""
    a, b = pair
    publish(a, "alpha", ["member:bravo@berlin"])
    dest = b.ex.node_id
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    hung: list[str] = []
    sent = asyncio.Event()

    async def cut(method: str, path: str, body: bytes = b"", params: Any = None,
                  timeout: Any = None) -> httpx.Response:
        sent.set()
        try:
            await asyncio.Event().wait()  # a connect on a silent cut
        except asyncio.CancelledError:
            hung.append("given up")
            raise
        raise AssertionError("unreachable")

    monkeypatch.setattr(link, "_request", cut)
    link.state = "down"
    round_ = asyncio.create_task(link.push_round())
    await asyncio.wait_for(sent.wait(), 20)
    link._ok()  # a probe got through
    assert await asyncio.wait_for(round_, 20) is True  # begin again
    assert hung == ["given up"]

    async def live(method: str, path: str, body: bytes = b"", params: Any = None,
                   timeout: Any = None) -> httpx.Response:
        got = await receiver.receive_in_turn(b.ex, b.peers["athens"], orjson.loads(body))
        return httpx.Response(200, content=orjson.dumps(got.ack))

    monkeypatch.setattr(link, "_request", live)
    await asyncio.wait_for(link.push_round(), 20)
    head, acked, *_ = a.ex.store.read(lambda sql: q.link(sql, dest))
    assert acked == head
    await link.client.aclose()
    await svc.stop()


async def test_a_backoff_ends_when_the_link_comes_up_not_on_a_publish(
        pair: tuple[Node, Node]) -> None:
    """A failed push waits out its backoff until the link comes up (here: the peer's
    heartbeat is heard); a publish meanwhile does not end it (a push would only hang on
    the cut connection)."""
    a, b = pair
    svc = Service(a.ex, a.node.settings, _ring)
    link = svc.links[b.ex.node_id] = Link(svc, a.peers["berlin"])
    link.backoff = sender.BACKOFF_CAP
    waiting = asyncio.create_task(link._failed("cut"))
    dest = b.ex.node_id
    while a.ex.store.read(lambda sql: q.link(sql, dest))[4] != "cut":
        await asyncio.sleep(0.01)  # its error is written: it waits out the backoff next
    for _ in range(20):
        await asyncio.sleep(0)
    assert link.state == "down"
    link.tell(10**6)  # a publish
    for _ in range(20):
        await asyncio.sleep(0)
    assert not waiting.done()
    svc.heard(b.ex.node_id)
    await asyncio.wait_for(waiting, 20)
    await link.client.aclose()
    await svc.stop()


async def test_a_push_begun_on_a_down_link_that_gets_through_goes_on(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """A push round begun while the link was down whose own batches get answered (it
    brought the link up) is not given up: it sends its round through, each batch once."""
    a, b = pair
    for _ in range(6):
        publish(a, "alpha", ["member:bravo@berlin"])
    dest = b.ex.node_id
    monkeypatch.setattr(sender, "FIRST", 1)
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    froms: list[int] = []

    async def live(method: str, path: str, body: bytes = b"", params: Any = None,
                   timeout: Any = None) -> httpx.Response:
        data = orjson.loads(body)
        if path == "/heartbeat":  # a link not up beats before its first batch
            beat = await asyncio.to_thread(receiver.heartbeat, b.ex, b.peers["athens"],
                                           data)
            return httpx.Response(200, content=orjson.dumps(beat))
        froms.append(int(data["batch"]["from"]))
        got = await receiver.receive_in_turn(b.ex, b.peers["athens"], data)
        return httpx.Response(200, content=orjson.dumps(got.ack))

    monkeypatch.setattr(link, "_request", live)
    link.state = "down"
    await asyncio.wait_for(link.push_round(), 20)
    head, acked, *_ = a.ex.store.read(lambda sql: q.link(sql, dest))
    assert acked == head and link.state == "up"
    assert len(froms) >= 3 and froms == sorted(set(froms))  # one round, each batch once


async def test_a_link_not_up_beats_before_its_first_batch(
        pair: tuple[Node, Node], monkeypatch: pytest.MonkeyPatch) -> None:
    """A link that was down (or is new) sends a heartbeat before it pushes: the
    revocations the heartbeat carries reach the peer ahead of the queued batch (a share
    signed by a key revoked while the peer was away is refused there, not taken). A
    heartbeat that does not get through sends no batch; a link that is up pushes at
    once."""
    a, b = pair
    publish(a, "alpha", ["member:bravo@berlin"])
    dest = b.ex.node_id
    head = a.ex.store.read(lambda sql: q.link(sql, dest))[0]
    svc = Service(a.ex, a.node.settings, _ring)
    link = Link(svc, a.peers["berlin"])
    calls: list[str] = []
    refuse = [503]

    async def post(method: str, path: str, body: bytes = b"", params: Any = None,
                   timeout: Any = None) -> httpx.Response:
        calls.append(path)
        data = orjson.loads(body)
        if path == "/heartbeat":
            if refuse:
                return httpx.Response(refuse.pop(), content=b"{}")
            beat = await asyncio.to_thread(receiver.heartbeat, b.ex, b.peers["athens"],
                                           data)
            return httpx.Response(200, content=orjson.dumps(beat))
        got = await receiver.receive_in_turn(b.ex, b.peers["athens"], data)
        return httpx.Response(200, content=orjson.dumps(got.ack))

    monkeypatch.setattr(link, "_request", post)
    link.state = "down"
    with pytest.raises(VigilError):
        await link.push_once()
    assert calls == ["/heartbeat"]  # no batch behind a heartbeat that failed
    assert await link.push_once() is True
    assert calls == ["/heartbeat", "/heartbeat", "/batch"]
    assert link.state == "up"
    assert a.ex.store.read(lambda sql: q.link(sql, dest))[1] == head
    publish(a, "alpha", ["member:bravo@berlin"])
    calls.clear()
    assert await link.push_once() is True
    assert calls == ["/batch"]
    await link.client.aclose()
    await svc.stop()
