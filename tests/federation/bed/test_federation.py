"""Federation on the network-namespace bed: five nodes, each in its own namespace, talking
only through the router's proxy; every member's push stream held open by the test.

Each test publishes through the REST API of the sender's own node, counts a share as
acknowledged when that node answered 201, and judges what every member's stream got
with a set check (every entitled member exactly once, nobody else)."""

from __future__ import annotations

import asyncio
import os
import random
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.testbed.crashes import kill_rounds, kill_run
from vigil.testbed.federation import Federation, as_seen_from, set_check

ROUNDS_KILL = int(os.environ.get("VIGIL_BED_KILL_ROUNDS", "4"))
BACKLOG = int(os.environ.get("VIGIL_BED_BACKLOG", "1000"))
CASES = int(os.environ.get("VIGIL_BED_CASES", "1000"))
WITHHOLD = int(os.environ.get("VIGIL_BED_WITHHOLD", "1000"))
SHARE_ID = re.compile(rb"share--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
Job = tuple[str, Sequence[str], str]


def run(fed: Federation, coro: Any, timeout: float = 600) -> Any:
    return fed.tb.client.run(coro, timeout=timeout)


async def publish_all(fed: Federation, jobs: Sequence[Job], concurrency: int = 4,
                      tlp: str = "amber") -> list[dict[str, Any] | None]:
    """Publish every (sender, to, label); None where the node gave no acknowledgement."""
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(verify=False, timeout=120) as c:

        async def one(job: Job) -> dict[str, Any] | None:
            async with sem:
                try:
                    return await fed.publish(c, job[0], job[1], job[2], tlp=tlp)
                except httpx.HTTPStatusError as e:
                    print(f"not acknowledged: {job}: {e.response.status_code} {e.response.text}")
                    return None
                except httpx.TransportError as e:
                    print(f"not acknowledged: {job}: {e!r}")
                    return None

        return list(await asyncio.gather(*(one(j) for j in jobs)))


def entitled_of(fed: Federation, jobs: Sequence[Job], answers: Sequence[dict[str, Any] | None],
                expected: Sequence[Sequence[str]] | None = None) -> dict[str, list[str]]:
    """share id → member addresses it was acknowledged for; checks the node named exactly
    the addresses the test meant (`expected`, default: the job's member: entries)."""
    by_id = fed.address_of()
    out: dict[str, list[str]] = {}
    for k, (job, ans) in enumerate(zip(jobs, answers, strict=True)):
        if ans is None:
            continue
        got = sorted(by_id[r] for r in ans["recipients"])
        want = sorted(expected[k]) if expected is not None else \
            sorted(t.removeprefix("member:") for t in job[1])
        assert got == want, (job, got, want)
        out[ans["id"]] = got
    return out


def delivered(fed: Federation, entitled: dict[str, list[str]], timeout: float,
              kind: str = "share") -> bool:
    assert fed.streams is not None
    want: dict[str, set[str]] = {}
    for sid, ms in entitled.items():
        for m in ms:
            want.setdefault(m, set()).add(sid)
    ok = fed.streams.wait(lambda s: all(w <= set(s.shares(m, kind)) for m, w in want.items()),
                          timeout)
    if not ok:
        missing = {m: len(w - set(fed.streams.shares(m, kind))) for m, w in want.items()}
        links = {i: [(p["peer"], p["state"], p["sent"], p["received"]["cursor"],
                      p["received"]["withheld"], p["error"]) for p in fed.status(i)["peers"]]
                 for i in fed.nodes}
        print(f"not delivered ({kind}): {missing}\nlinks: {links}")
    return ok


def judge(fed: Federation, entitled: dict[str, list[str]], senders: dict[str, str],
          kind: str = "share") -> None:
    assert fed.streams is not None
    received = {m: fed.streams.shares(m, kind) for m in fed.addresses()}
    check = set_check(entitled, received, fed.addresses(), senders)
    assert check.ok, (str(check), check)


def senders_of(jobs: Sequence[Job], answers: Sequence[dict[str, Any] | None]) -> dict[str, str]:
    return {a["id"]: j[0] for j, a in zip(jobs, answers, strict=True) if a is not None}


def ids_in_files(data: Path) -> set[bytes]:
    """Every share id written anywhere under a node's data directory (store, WAL, logs)."""
    found: set[bytes] = set()
    for f in data.rglob("*"):
        if f.is_file():
            found.update(SHARE_ID.findall(f.read_bytes()))
    return found


def scan(paths: Sequence[Path], needle: bytes) -> list[str]:
    hits = []
    for root in paths:
        for f in ([root] if root.is_file() else root.rglob("*")):
            if f.is_file() and needle in f.read_bytes():
                hits.append(str(f))
    return hits


def node_files(fed: Federation, i: int) -> list[Path]:
    data = fed.nodes[i].test.data
    return [data, fed.nodes[i].bed.log]


# -- delivery ----------------------------------------------------------------------------

def test_cross_node_delivery_to_streams_on_three_nodes(fed5: Federation) -> None:
    jobs: list[Job] = []
    for k in range(6):
        jobs.append(("a@n1", ["member:b@n2", "member:c@n3"], f"x{k}"))
        jobs.append(("a@n2", ["member:a@n3"], f"y{k}"))
        jobs.append(("b@n3", ["member:c@n1", "member:c@n2"], f"z{k}"))
    answers = run(fed5, publish_all(fed5, jobs))
    assert all(answers)
    entitled = entitled_of(fed5, jobs, answers)
    assert delivered(fed5, entitled, 60)
    judge(fed5, entitled, senders_of(jobs, answers))


def test_a_channel_share_to_members_on_five_nodes_reaches_every_stream(
        fed5: Federation) -> None:
    members = ["b@n2", "b@n3", "c@n4", "a@n5", "b@n1"]

    async def make() -> httpx.Response:
        async with httpx.AsyncClient(verify=False, timeout=30) as c:
            return await fed5.call(c, "a@n1", "POST", "/api/v1/channels",
                                   json={"name": "five", "kind": "group",
                                         "members": [as_seen_from(1, m) for m in members]})

    r = run(fed5, make())
    assert r.status_code == 201, r.text
    jobs: list[Job] = [("a@n1", ["five"], f"ch{k}") for k in range(5)]
    answers = run(fed5, publish_all(fed5, jobs, concurrency=1))
    assert all(answers)
    everyone = [["a@n1", *members] for _ in jobs]
    # the publisher is a member of its own channel: it is not its own recipient
    entitled = entitled_of(fed5, jobs, answers, [sorted(set(e) - {"a@n1"}) for e in everyone])
    assert delivered(fed5, entitled, 60)
    judge(fed5, entitled, senders_of(jobs, answers))


def test_a_node_hosting_no_recipient_holds_nothing_of_the_share(fed5: Federation) -> None:
    """Random audiences over the five nodes (a random sender, 1-4 recipients anywhere):
    afterwards no node that hosts neither the sender nor a recipient has the share's id
    anywhere in its data directory (store, WAL, logs)."""
    rng = random.Random(1201)
    everyone = fed5.addresses()
    jobs: list[Job] = []
    for k in range(CASES):
        sender = rng.choice(everyone)
        to = rng.sample([a for a in everyone if a != sender], rng.randint(1, 4))
        jobs.append((sender, [f"member:{a}" for a in to], f"t{k}"))
    answers = run(fed5, publish_all(fed5, jobs, concurrency=6))
    assert all(answers)
    entitled = entitled_of(fed5, jobs, answers)
    assert delivered(fed5, entitled, 180)
    judge(fed5, entitled, senders_of(jobs, answers))
    hosts = {sid: {int(a.split("@n")[1]) for a in [s, *entitled[sid]]}
             for sid, s in senders_of(jobs, answers).items()}
    for i in fed5.nodes:
        present = ids_in_files(fed5.nodes[i].test.data)
        should = {sid.encode() for sid, h in hosts.items() if i in h}
        stray = {sid.encode() for sid, h in hosts.items() if i not in h} & present
        assert not stray, f"n{i} holds {len(stray)} shares it hosts no recipient of"
        assert should <= present  # the scan sees what is there


# -- partitions ------------------------------------------------------------------------

def test_catch_up_after_a_partition_loses_and_repeats_nothing(fed5: Federation) -> None:
    """n2 is cut off silently while n1 and n3 queue a backlog for it; after the heal,
    every share arrives exactly once."""
    fed5.tb.isolate(2)
    try:
        jobs: list[Job] = [("a@n1" if k % 2 else "c@n3", ["member:b@n2"], f"q{k}")
                           for k in range(BACKLOG)]
        answers = run(fed5, publish_all(fed5, jobs, concurrency=6))
        assert all(answers)
        entitled = entitled_of(fed5, jobs, answers)
        time.sleep(1)
        assert fed5.streams is not None
        assert not set(entitled) & set(fed5.streams.shares("b@n2"))
    finally:
        fed5.tb.heal()
    assert delivered(fed5, entitled, 240)
    judge(fed5, entitled, senders_of(jobs, answers))


class Traffic:
    """Publishes, recalls and channel membership changes from a thread until stopped."""

    def __init__(self, fed: Federation, seed: int) -> None:
        self.fed = fed
        self.rng = random.Random(seed)
        self.jobs: list[Job] = []
        self.answers: list[dict[str, Any] | None] = []
        self.expected: list[list[str]] = []
        self.recalled: dict[str, list[str]] = {}
        self.channel = f"ch-{uuid.uuid4().hex[:8]}"
        self.owner = "c@n1"
        self.pool = ["a@n2", "b@n3", "c@n4", "a@n5", "b@n1"]
        self.in_channel = set(self.pool[:3])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)

    def start(self) -> Traffic:
        async def make() -> httpx.Response:
            async with httpx.AsyncClient(verify=False, timeout=30) as c:
                return await self.fed.call(c, self.owner, "POST", "/api/v1/channels",
                                           json={"name": self.channel, "kind": "group",
                                                 "members": [as_seen_from(1, m) for m in
                                                             sorted(self.in_channel)]})

        r = run(self.fed, make())
        assert r.status_code == 201, r.text
        self.thread.start()
        return self

    def _main(self) -> None:
        while not self.stop.is_set():
            run(self.fed, self.step())

    async def step(self) -> None:
        everyone = self.fed.addresses()
        roll = self.rng.random()
        async with httpx.AsyncClient(verify=False, timeout=20) as c:
            if roll < 0.15:
                # the channel's owner adds or removes a member
                who = self.rng.choice(self.pool)
                add = who not in self.in_channel
                try:
                    if add:
                        r = await self.fed.call(c, self.owner, "POST",
                                                f"/api/v1/channels/{self.channel}/members",
                                                json={"member": as_seen_from(1, who)})
                    else:
                        r = await self.fed.call(
                            c, self.owner, "DELETE",
                            f"/api/v1/channels/{self.channel}/members/"
                            f"{as_seen_from(1, who)}")
                except httpx.TransportError:
                    return
                if r.status_code == 200:
                    (self.in_channel.add if add else self.in_channel.discard)(who)
                return
            if roll < 0.25 and self.answers:
                # recall an acknowledged share of the owner's node
                mine = [(j, a) for j, a in zip(self.jobs, self.answers, strict=True)
                        if a is not None and a["id"] not in self.recalled]
                if mine:
                    old, done = self.rng.choice(mine)
                    try:
                        r = await self.fed.call(c, old[0], "POST",
                                                f"/api/v1/shares/{done['id']}/recall")
                    except httpx.TransportError:
                        return
                    if r.status_code in (200, 201):
                        by_id = self.fed.address_of()
                        self.recalled[done["id"]] = sorted(by_id[x]
                                                           for x in done["recipients"])
                return
            if roll < 0.4:
                job: Job = (self.owner, [self.channel], f"c{len(self.jobs)}")
                expected = sorted(self.in_channel)
            else:
                sender = self.rng.choice(everyone)
                to = self.rng.sample([a for a in everyone if a != sender],
                                     self.rng.randint(1, 3))
                job = (sender, [f"member:{a}" for a in to], f"p{len(self.jobs)}")
                expected = sorted(to)
            try:
                ans: dict[str, Any] | None = await self.fed.publish(c, *job)
            except (httpx.TransportError, httpx.HTTPStatusError):
                ans = None
            self.jobs.append(job)
            self.answers.append(ans)
            self.expected.append(expected)

    def acked(self) -> int:
        return sum(1 for a in list(self.answers) if a is not None)

    def wait_acked(self, more: int, timeout: float = 90) -> None:
        """Until `more` further shares were acknowledged (the machine may be slow)."""
        goal = self.acked() + more
        deadline = time.monotonic() + timeout
        while self.acked() < goal and time.monotonic() < deadline:
            time.sleep(0.2)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(120)

    def judge(self, timeout: float = 180) -> None:
        """Every acknowledged share reaches each of its recipients exactly once, and
        nobody else; a recalled one may arrive as its recall notice only (recalled before
        it was delivered: the policy shows a recalled share only as its notice); a recall
        notice reaches every recipient that was shown the share, nobody twice, nobody
        else."""
        entitled = entitled_of(self.fed, self.jobs, self.answers, self.expected)
        assert len(entitled) >= 10
        kept = {sid: ms for sid, ms in entitled.items() if sid not in self.recalled}
        senders = senders_of(self.jobs, self.answers)
        assert delivered(self.fed, kept, timeout)
        assert self.fed.streams is not None
        # a recipient whose stream never showed the share (recalled in transit, applied
        # together with its recall) need not be told; every other one must be
        seen = {m: set(self.fed.streams.shares(m)) for m in self.fed.addresses()}
        told = {sid: [m for m in ms if sid in seen[m]] for sid, ms in self.recalled.items()}
        assert delivered(self.fed, told, timeout, kind="recall")
        judge(self.fed, kept, senders)
        received = {m: self.fed.streams.shares(m, "recall") for m in self.fed.addresses()}
        check = set_check(self.recalled, received, self.fed.addresses(), senders)
        assert not check.duplicated and not check.unentitled, str(check)
        for m in self.fed.addresses():
            got = [s for s in self.fed.streams.shares(m) if s in self.recalled]
            assert len(got) == len(set(got)), f"{m}: a recalled share delivered twice"
            assert all(m in self.recalled[s] or senders.get(s) == m for s in got), m


def _partition(fed: Federation, how: str, on: bool) -> None:
    nodes = sorted(fed.nodes)
    if how == "isolate":
        if on:
            fed.tb.isolate(3)
        else:
            fed.tb.heal()
        return
    if how == "split":
        left, right = {1, 2}, {3, 4, 5}
        links = [(a, b) for a in left for b in right] + [(b, a) for a in left for b in right]
    else:  # one-way: n1 and n4 hear nothing from the others, and may still send
        links = [(a, b) for a in nodes for b in (1, 4) if a != b]
    (fed.tb.proxy.hold if on else fed.tb.proxy.release)(links)


@pytest.mark.parametrize("how", ["isolate", "split", "one-way", "flapping"])
def test_partition_matrix_then_set_check(fed5: Federation, how: str) -> None:
    traffic = Traffic(fed5, seed=sum(map(ord, how))).start()
    try:
        traffic.wait_acked(3)
        if how == "flapping":
            for k in range(6):
                _partition(fed5, "split" if k % 2 else "isolate", True)
                traffic.wait_acked(2, timeout=5)
                _partition(fed5, "split" if k % 2 else "isolate", False)
                time.sleep(0.5)
        else:
            _partition(fed5, how, True)
            time.sleep(2)  # long enough for links to notice
            traffic.wait_acked(8)
            _partition(fed5, how, False)
        traffic.wait_acked(3)
    finally:
        traffic.finish()
        fed5.tb.bed.heal()
        fed5.tb.proxy.clear()
    traffic.judge()


# -- crashes ---------------------------------------------------------------------------

def test_kill_9_of_a_random_node_during_traffic_loses_no_acknowledged_share(
        fed5: Federation) -> None:
    rng = random.Random(905)
    traffic = Traffic(fed5, seed=906).start()
    try:
        kill_rounds(fed5, ROUNDS_KILL, rng)
        time.sleep(1)
    finally:
        traffic.finish()
        for fn in fed5.nodes.values():
            fn.bed.start()
    traffic.judge()


def test_the_bench_s_kill_run_finds_every_acknowledged_share_once(fed5: Federation) -> None:
    """What ``python -m bench.federation --kill-rounds N`` runs, shortened: publishes
    while random nodes are killed, then the set check over every acknowledged share."""
    got = kill_run(fed5, max(2, ROUNDS_KILL // 2), seed=77)
    assert got["acknowledged"] >= 5, got
    assert got["ok"], got


# -- withholding and recall ----------------------------------------------------------

def test_a_withheld_share_is_flagged(fed5: Federation) -> None:
    """n4 queues 1,000 shares for n5 while the link is held, then leaves one out (stopped,
    its outbox row deleted and restarted, as a withholding origin would): n5 gets every
    share before the gap, flags the link withheld, and applies nothing past the gap."""
    n4 = fed5.nodes[4]
    fed5.tb.proxy.hold([(4, 5), (5, 4)])
    try:
        jobs: list[Job] = [("a@n4", ["member:b@n5"], f"w{k}") for k in range(WITHHOLD)]
        answers = run(fed5, publish_all(fed5, jobs, concurrency=6))
        assert all(answers)
        entitled = entitled_of(fed5, jobs, answers)
        # n4 stops first: a batch it built before the row went (held in flight, or built
        # ahead of the next send) would still carry it; the held connections go too, so
        # n5 gets only what n4's outbox holds now, as from a withholding origin
        n4.bed.kill()
        fed5.tb.proxy.reset([(4, 5), (5, 4)])
        db = sqlite3.connect(n4.test.data / "vigil.db", timeout=30)
        with db:
            dest = db.execute("SELECT dest FROM fed_outbox WHERE ref=?",
                              (next(iter(entitled)),)).fetchone()[0]
            dseq = dict(db.execute("SELECT ref, dseq FROM fed_outbox WHERE dest=?", (dest,)))
            victim = sorted(entitled, key=lambda sid: dseq[sid])[len(entitled) // 2]
            gone = db.execute("DELETE FROM fed_outbox WHERE dest=? AND ref=?",
                              (dest, victim)).rowcount
        db.close()
        assert gone == 1
    finally:
        n4.bed.start()
        fed5.tb.proxy.release()
    before = {sid: ms for sid, ms in entitled.items() if dseq[sid] < dseq[victim]}
    assert delivered(fed5, before, 180)  # waits at most this long (a loaded CI)

    def flagged() -> bool:
        return any(p["peer"] == "n4" and p["received"]["withheld"]
                   for p in fed5.status(5)["peers"])

    deadline = time.monotonic() + 60
    while not flagged():
        assert time.monotonic() < deadline, fed5.status(5)
        time.sleep(0.5)
    assert fed5.streams is not None
    got = set(fed5.streams.shares("b@n5"))
    assert victim not in got
    assert not {sid for sid in entitled if dseq[sid] > dseq[victim]} & got


def test_a_recall_on_four_nodes_purges_everywhere_and_its_receipts_return(
        fed5: Federation) -> None:
    from vigil.crypto.encoding import b64u, b64u_decode
    from vigil.node import accountability as acc

    canary = f"CANARY-{uuid.uuid4().hex}"
    to = ["b@n2", "c@n3", "a@n4"]

    async def go() -> dict[str, Any]:
        async with httpx.AsyncClient(verify=False, timeout=30) as c:
            return await fed5.publish(c, "a@n1", [f"member:{a}" for a in to], canary)

    ans = run(fed5, go())
    sid = ans["id"]
    assert delivered(fed5, {sid: to}, 60)

    async def envelope() -> dict[str, Any]:
        async with httpx.AsyncClient(verify=False, timeout=30) as c:
            r = await fed5.call(c, "a@n1", "GET", f"/api/v1/shares/{sid}")
            r.raise_for_status()
            return dict(r.json())

    env = run(fed5, envelope())
    assert env["header"]["payload"]["form"] == "sealed"
    # what a recall must remove: a slice of the ciphertext and every wrap, byte for byte
    needles = [b64u_decode(env["payload"])[100:140],
               *(b64u_decode(w["blob"]) for w in env["wraps"])]
    for i in fed5.nodes:
        hits = [n for n in needles if scan(node_files(fed5, i), n)]
        assert bool(hits) == (i in (1, 2, 3, 4)), f"n{i}: {len(hits)} of the payload's parts"

    async def recall() -> httpx.Response:
        async with httpx.AsyncClient(verify=False, timeout=30) as c:
            return await fed5.call(c, "a@n1", "POST", f"/api/v1/shares/{sid}/recall")

    r = run(fed5, recall())
    assert r.status_code in (200, 201), r.text
    assert delivered(fed5, {sid: to}, 60, kind="recall")

    async def ack(member: str) -> httpx.Response:
        name, _, node = member.partition("@")
        kr = fed5.nodes[int(node[1:])].test.members[name].keyring
        obj = acc.receipt_object(sid, kr.member_id, "recall-ack", kr.sign_key_id)
        body = {"receipt": obj, "signature": b64u(acc.sign_receipt(obj, kr.sign_private))}
        async with httpx.AsyncClient(verify=False, timeout=30) as c:
            return await fed5.call(c, member, "POST", f"/api/v1/shares/{sid}/receipts",
                                   json=body)

    for m in to:
        got = run(fed5, ack(m))
        assert got.status_code in (200, 201), got.text

    async def receipts() -> dict[str, Any]:
        async with httpx.AsyncClient(verify=False, timeout=30) as c:
            return dict((await fed5.call(c, "a@n1", "GET",
                                         f"/api/v1/shares/{sid}/receipts")).json())

    deadline = time.monotonic() + 60
    while (view := run(fed5, receipts())).get("not_acknowledged") != []:
        assert time.monotonic() < deadline, view
        time.sleep(0.3)
    for i in fed5.nodes:
        left = [n for n in [canary.encode(), *needles] if scan(node_files(fed5, i), n)]
        assert left == [], f"n{i} still holds {len(left)} parts of the recalled share"
