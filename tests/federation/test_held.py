"""A channel item naming a member not known here yet is held, not quarantined: applied,
in its channel's order, once the member is announced (on another link), kept across a
restart; a channel naming invented members is quarantined past the bound (count per
peer, age) and stalls nothing."""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.federation.pairs import (
    Node,
    batch,
    cursor,
    deliver,
    inbox_ids,
    make,
    peer,
    publish,
    quarantined,
    resign,
    sync,
)

from vigil import clock
from vigil.features import open_exchange
from vigil.federation import held, receiver
from vigil.federation.batches import heartbeat_body
from vigil.federation.status import status
from vigil.model import ChannelKind
from vigil.storage import federation as q


@pytest.fixture(params=["sqlite", "postgresql"])
def abc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Node, Node, Node]]:
    """Three peered nodes; every member announced everywhere but cairo's at berlin
    (berlin on each backend in turn)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    made = [make(tmp_path, n, {m: True}, store=url if n == "berlin" else None)
            for n, m in (("athens", "alpha"), ("berlin", "bravo"), ("cairo", "charlie"))]
    try:
        a, b, c = made
        for x, y in ((a, b), (a, c), (b, c)):
            peer(x, y)
        for x, y in ((a, b), (b, a), (a, c), (c, a), (b, c)):
            deliver(x, y)
        yield a, b, c
    finally:
        for n in made:
            n.close()


def remote_id(n: Node, address: str) -> str:
    return next(m.id for m in n.ex.directory().members.values() if m.name == address)


def held_count(n: Node, origin: Node) -> int:
    return n.ex.store.read(lambda sql: q.held_count(sql, origin.ex.node_id))


def events(n: Node, channel: str, member: str) -> list[str]:
    return [str(r[0]) for r in n.ex.store.read(lambda sql: sql.execute(
        "SELECT event FROM channel_events WHERE channel_id=? AND member_id=? ORDER BY seq",
        (channel, member)).fetchall())]


def trio(a: Node) -> str:
    return a.ex.create_channel(a.id("alpha"), "trio", ChannelKind.GROUP,
                               [remote_id(a, "bravo@berlin"), remote_id(a, "charlie@cairo")]).id


def test_a_channel_before_its_member_is_held_then_applied(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, c = abc
    ch = trio(a)
    got = deliver(a, b)  # berlin does not know charlie yet
    assert got.held and got.quarantined == [] and quarantined(b) == []
    assert cursor(b, a) == got.ack["ack"]["cursor"]  # the cursor passed it
    assert ch not in b.ex.directory().channels and held_count(b, a) == 1
    links = {p["peer"]: p for p in status(b.ex)["peers"]}
    assert (links["athens"]["received"]["held"], links["cairo"]["received"]["held"]) == (1, 0)
    deliver(c, b)  # charlie announced on the cairo link: the channel applies
    assert held_count(b, a) == 0 and quarantined(b) == []
    assert c.id("charlie") in b.ex.directory().channels[ch].members
    sid = publish(b, "bravo", ["trio"])  # berlin's copy of the channel reaches charlie
    deliver(b, c)
    assert sid in inbox_ids(c, "charlie")


def test_held_items_of_a_channel_apply_in_order(abc: tuple[Node, Node, Node]) -> None:
    a, b, c = abc
    ch = trio(a)
    assert deliver(a, b).held  # the add
    a.ex.change_channel(a.id("alpha"), ch, "charlie@cairo", add=False)
    got = deliver(a, b)  # the removal names only members known here: held behind the add
    assert got.held and held_count(b, a) == 2
    deliver(c, b)
    charlie = c.id("charlie")
    assert events(b, ch, charlie) == ["join", "leave"]  # the add, then the removal
    assert charlie not in b.ex.directory().channels[ch].members
    assert held_count(b, a) == 0 and quarantined(b) == []


def test_a_held_item_survives_a_restart(abc: tuple[Node, Node, Node]) -> None:
    a, b, c = abc
    ch = trio(a)
    assert deliver(a, b).held
    b.ex.store.close()
    b.ex = open_exchange(b.node.settings)  # a new process on the same store
    assert held_count(b, a) == 1
    assert deliver(a, b).held == []  # nothing again: the cursor had passed it
    deliver(c, b)
    assert c.id("charlie") in b.ex.directory().channels[ch].members


KILLED = """
import os, pickle, signal, sys
from vigil.features import open_exchange
from vigil.federation import outbox, peers, receiver
from vigil.federation.batches import build_batch
from vigil.storage import federation as q
sa, sb = pickle.loads(open(sys.argv[1], "rb").read())
a, b = open_exchange(sa), open_exchange(sb)
a.store.write(lambda sql: outbox.sync(a, sql, b.node_id))
acked = a.store.read(lambda sql: q.link(sql, b.node_id))[1]
got = receiver.receive(b, peers.peer(b.store, "athens"), build_batch(a, b.node_id, acked))
print(got.held, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # after the commit, before anything is closed
"""


def test_a_held_item_survives_kill_9(abc: tuple[Node, Node, Node], tmp_path: Path) -> None:
    a, b, c = abc
    ch = trio(a)
    settings = tmp_path / "settings.pickle"
    settings.write_bytes(pickle.dumps((a.node.settings, b.node.settings)))
    run = subprocess.run([sys.executable, "-c", KILLED, str(settings)], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == -signal.SIGKILL, run.stderr
    assert run.stdout.strip() not in ("", "[]")  # the channel was held there
    assert held_count(b, a) == 1 and cursor(b, a) >= int(run.stdout.strip("[]\n"))
    deliver(c, b)
    assert c.id("charlie") in b.ex.directory().channels[ch].members


def invented(a: Node, b: Node, n: int) -> dict[str, Any]:
    """A batch of ``n`` channels of alpha's, each also naming a member no node has."""
    for i in range(n):
        a.ex.create_channel(a.id("alpha"), f"ch{i}", ChannelKind.GROUP,
                            [remote_id(a, "bravo@berlin")])
    sync(a, b)
    data = batch(a, b)
    for it, body in zip(data["batch"]["items"], data["bodies"], strict=True):
        if it["kind"] == "channel" and body["channel"]["name"].startswith("ch"):
            body["channel"]["members"].append(f"m-invented-{it['dseq']}")
    return resign(a, data)


def test_invented_members_are_quarantined_past_the_bound(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    held.limits(b.ex).items = 2
    data = invented(a, b, 3)
    got = receiver.receive(b.ex, b.peers["athens"], data)
    dseqs = [it["dseq"] for it in data["batch"]["items"] if it["kind"] == "channel"]
    assert got.held == dseqs  # each held when it came; the first made way for the third
    assert got.quarantined == dseqs[:1] and held_count(b, a) == 2
    [bad] = quarantined(b)
    assert (bad["dseq"], bad["code"]) == (dseqs[0], "fed.unknown_member")
    evidence = b.ex.store.read(lambda sql: q.evidence(sql, bad["seq"]))
    assert evidence is not None and b"m-invented-" in evidence
    assert cursor(b, a) == data["batch"]["to"]  # the link is not stalled
    a.ex.store.write(lambda sql: q.set_acked(sql, b.ex.node_id, cursor(b, a), clock.now()))
    sid = publish(a, "alpha", ["member:bravo@berlin"])
    deliver(a, b)
    assert sid in inbox_ids(b, "bravo")
    # past the age bound the rest is quarantined too
    later = clock.fmt(datetime.now(UTC) + timedelta(seconds=held.SECONDS + 1))
    out = b.ex.store.write(lambda sql: held.release(b.ex, sql, later, members=False))
    assert out.quarantined == [(a.ex.node_id, d) for d in dseqs[1:]]
    assert held_count(b, a) == 0
    assert sorted(x["dseq"] for x in quarantined(b)) == dseqs


def test_the_bounds_come_from_the_settings(abc: tuple[Node, Node, Node]) -> None:
    _, b, _ = abc
    got = held.configure(b.ex, b.node.settings.with_overrides(fed_hold_items=5,
                                                               fed_hold_seconds=60.0))
    assert (got.items, got.seconds) == (5, 60.0) and held.limits(b.ex) is got


def test_a_channel_waiting_for_an_invented_member_holds_up_no_other(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, c = abc
    ch = trio(a)
    data = invented(a, b, 1)
    got = receiver.receive(b.ex, b.peers["athens"], data)
    assert len(got.held) == 2
    [(ch0, dseq0)] = [(body["channel"]["id"], it["dseq"]) for it, body in
                      zip(data["batch"]["items"], data["bodies"], strict=True)
                      if it["kind"] == "channel" and body["channel"]["name"] == "ch0"]
    rows = b.ex.store.read(q.held_rows)
    assert {r[4]: r[5] for r in rows} == {ch: c.id("charlie"), ch0: f"m-invented-{dseq0}"}
    deliver(c, b)  # charlie known: trio applies, ch0 still waits
    assert ch in b.ex.directory().channels and ch0 not in b.ex.directory().channels
    assert [r[4] for r in b.ex.store.read(q.held_rows)] == [ch0] and quarantined(b) == []


def test_heartbeats_keep_the_age_bound_on_an_idle_link(
        abc: tuple[Node, Node, Node]) -> None:
    a, b, _ = abc
    trio(a)
    assert deliver(a, b).held
    held.limits(b.ex).seconds = 0.0
    time.sleep(0.01)  # the item is now older than the bound
    head, acked, *_ = a.ex.store.read(lambda sql: q.link(sql, b.ex.node_id))
    receiver.heartbeat(b.ex, b.peers["athens"], heartbeat_body(a.ex, b.ex.node_id, head,
                                                                acked))
    assert held_count(b, a) == 0
    assert [x["code"] for x in quarantined(b)] == ["fed.unknown_member"]


def test_another_peer_naming_the_channel_holds_up_nothing(
        abc: tuple[Node, Node, Node]) -> None:
    """Only the channel's home node orders it: an item of another peer under the same
    channel id (a hostile one, naming an invented member) is held apart."""
    a, b, c = abc
    deliver(c, b)  # charlie known at berlin
    duo = a.ex.create_channel(a.id("alpha"), "duo", ChannelKind.GROUP,
                              [remote_id(a, "bravo@berlin")]).id
    c.ex.create_channel(c.id("charlie"), "decoy", ChannelKind.GROUP,
                        [remote_id(c, "bravo@berlin")])
    sync(c, b)
    data = batch(c, b)
    for it, body in zip(data["batch"]["items"], data["bodies"], strict=True):
        if it["kind"] == "channel":
            body["channel"]["id"] = duo
            body["channel"]["members"].append("m-invented")
    assert receiver.receive(b.ex, b.peers["cairo"], resign(c, data)).held
    got = deliver(a, b)
    assert got.held == [] and duo in b.ex.directory().channels
    assert held_count(b, c) == 1 and held_count(b, a) == 0
