"""Re-homing: alpha moves from athens to berlin on its own signed ``rehome`` entry.
Athens hosts it no more, berlin takes it only with athens' proven move, cairo follows
berlin's announcement only with that proof, a share from cairo then reaches alpha at
berlin, and a client looking alpha up at athens is sent to berlin."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.federation.pairs import (
    Node,
    batch,
    deliver,
    make,
    peer,
    publish,
    quarantined,
    resign,
    sync,
)
from tests.federation.trusting import witness_of

from vigil.directory.answers import answer_lookup
from vigil.directory.entries import fold, member_signature, next_entry
from vigil.errors import CryptoError, InputError, NotFound
from vigil.federation import receiver
from vigil.federation.trust import TrustService
from vigil.storage import federation as q
from vigil.trust_client import TrustingClient

World = tuple[list[Node], list[TrustService]]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    a = make(tmp_path, "athens", {"alpha": True})
    b = make(tmp_path, "berlin", {"bravo": True})
    c = make(tmp_path, "cairo", {"charlie": True})
    nodes = [a, b, c]
    for x, y in ((a, b), (a, c), (b, c)):
        peer(x, y)
    ts = [TrustService(n.ex) for n in nodes]
    for t in ts:
        t.install()
        assert t.register_held() == 1
    for i in range(len(ts)):
        witness(ts, i)  # announcements leave with witnessed directory entries only
    for x in nodes:
        for y in nodes:
            if x is not y:
                deliver(x, y)  # every member known everywhere
    assert all(quarantined(n) == [] for n in nodes)
    yield nodes, ts
    for t in ts:
        t.uninstall()
    for n in nodes:
        n.close()


def witness(ts: list[TrustService], i: int) -> None:
    """The other nodes cosign node i's logs (k = 1 of 3)."""
    won = ts[i].collector.round([witness_of(t) for j, t in enumerate(ts) if j != i])
    assert all(v >= 1 for v in won.values())


def home(n: Node, member: str) -> tuple[str, int, int | None] | None:
    return n.ex.store.read(lambda sql: q.remote_member(sql, member))


def move(a: Node, ta: TrustService, to: str) -> None:
    """alpha signs its move with its own key and hands it to athens."""
    alpha = a.id("alpha")
    kr = a.node.members["alpha"].keyring
    state = fold([e for _, e in ta.directory.member_entries(alpha)], a.ex.node_id,
                 a.ex.node_key_raw)
    entry = next_entry(state, "rehome", alpha, a.ex.node_id, to=to)
    ta.submit_entry(alpha, {"entry": entry, "sig": member_signature(entry, kr.sign_private)})


def lookup(ta: TrustService, member: str) -> dict[str, Any]:
    return answer_lookup(ta.directory, ta.collector, member, ta.k())


def test_a_member_moves_and_every_node_follows(world: World) -> None:
    (a, b, c), (ta, tb, tc) = world
    alpha = a.id("alpha")
    # berlin takes nobody who did not move there
    with pytest.raises(CryptoError) as e:
        tb.take_member(alpha, lookup(ta, alpha))
    assert e.value.code == "dir.not_moved"
    # the move: athens hosts alpha no more
    assert home(a, alpha) is None
    move(a, ta, b.ex.node_id)
    assert home(a, alpha) == (b.ex.node_id, -1, None)
    witness(world[1], 0)
    answer = lookup(ta, alpha)
    # cairo may not take alpha: the move names berlin
    with pytest.raises(CryptoError) as e:
        tc.take_member(alpha, answer)
    assert e.value.code == "dir.not_moved"
    tb.take_member(alpha, answer)
    assert home(b, alpha) is None  # berlin hosts alpha now
    # berlin's announcement without the proof of the move: a forged originator at cairo
    sync(b, c)
    data = batch(b, c)
    items = [(i, body) for i, body in zip(data["batch"]["items"], data["bodies"],
                                          strict=True)
             if i["kind"] == "member" and body["member"]["id"] == alpha]
    assert items and "moved" in items[-1][1]
    bare = copy.deepcopy(data)
    for body in bare["bodies"]:
        body.pop("moved", None)
    got = receiver.receive(c.ex, c.peers["berlin"], resign(b, bare))
    assert got.quarantined
    assert quarantined(c)[0]["code"] == "fed.forged_originator"
    before = home(c, alpha)
    assert before is not None and before[0] == a.ex.node_id
    # with it, cairo (and athens) follow: alpha is homed at berlin (berlin announces
    # its members to cairo again, as after peering)
    b.ex.store.write(lambda sql: q.reset_scans(sql, c.ex.node_id))
    deliver_all(b, c)
    deliver_all(b, a)
    for n in (c, a):
        got_home = home(n, alpha)
        assert got_home is not None and got_home[0] == b.ex.node_id, n.name
    # a share from cairo to alpha now goes to berlin, and reaches alpha there
    sid = publish(c, "charlie", ["member:alpha@athens"])
    deliver_all(c, b)
    rows, _, _ = b.ex.inbox_page(alpha, 0, 100)
    assert sid in [e.share_id for e, _, _ in rows]
    # a client looking alpha up at athens is sent to berlin
    http = httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(200, json=lookup(ta, alpha))))
    with pytest.raises(CryptoError) as e:
        TrustingClient.lookup("http://athens.invalid", a.ex.node_id, a.ex.node_key_raw,
                              alpha, ta.witnesses(), ta.k(), http=http)
    assert e.value.code == "dir.moved" and e.value.detail["to"] == b.ex.node_id
    http.close()


def deliver_all(src: Node, dst: Node) -> None:
    """Move batches src -> dst until the link is caught up."""
    for _ in range(3):
        deliver(src, dst)


def test_a_move_to_a_node_that_is_not_a_peer_is_refused(world: World) -> None:
    (a, _, _), (ta, _, _) = world
    with pytest.raises(InputError) as e:
        move(a, ta, "node--00000000-0000-4000-8000-000000000000")
    assert e.value.code == "dir.bad_entry"
    assert home(a, a.id("alpha")) is None


def test_taking_a_member_homed_here_is_refused(world: World) -> None:
    (a, _, _), (ta, _, _) = world
    with pytest.raises(NotFound) as e:
        ta.take_member(a.id("alpha"), {})
    assert e.value.code == "dir.not_moved"


def test_a_move_and_its_routing_commit_together(world: World,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The rehome entry and the routing away from athens are one transaction: when the
    routing fails, the directory holds no move either (in the store and in memory)."""
    from vigil.directory.log import DirectoryLog
    from vigil.storage import trust as tq

    (a, b, _), (ta, _, _) = world
    alpha = a.id("alpha")
    before = ta.directory.size()

    def broken(*args: Any) -> None:
        raise RuntimeError("the store failed")
    monkeypatch.setattr(tq, "home_at", broken)
    with pytest.raises(RuntimeError):
        move(a, ta, b.ex.node_id)
    assert ta.directory.size() == before
    assert [e.kind for _, e in ta.directory.member_entries(alpha)] == ["register"]
    fresh = DirectoryLog(a.ex.store, a.ex.node_id, a.ex.node_key)
    assert fresh.size() == before
    assert home(a, alpha) is None  # still hosted here
    monkeypatch.undo()
    move(a, ta, b.ex.node_id)  # the same move, once the store works
    assert [e.kind for _, e in ta.directory.member_entries(alpha)] == ["register", "rehome"]
    assert home(a, alpha) == (b.ex.node_id, -1, None)
