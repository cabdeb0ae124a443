"""Federated nodes on the test bed: set up, peer, publish, watch every member's stream.

:class:`Federation` gives node i the name ``n<i>``, its public URL through the proxy
(``https://10.201.100.<i>:8000``) and a self-signed TLS pair, then peers nodes with
``vigil peer add URL --pin PIN`` run in each node's own namespace (both directions: peering
is mutual). :class:`Streams` holds one SSE stream per member in the client namespace and
records every event; it reconnects with ``Last-Event-ID`` when a node is killed, so a
delivery is seen once per inbox entry. :func:`set_check` compares what was acknowledged
with what arrived: lost, duplicated and misdelivered, per member.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import re
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from vigil.features import open_exchange
from vigil.testbed.netns import call_in
from vigil.testbed.nodes import BedNode, Testbed
from vigil.testing import TestNode, make_node

PIN = re.compile(r"\bed25519:[0-9a-f]{32,64}\b")
PUBLISH_TRIES = 3  # a publish sent again under its Idempotency-Key after a transport error


def member_address(name: str, node: int) -> str:
    return f"{name}@n{node}"


def home_of(address: str) -> int:
    return int(address.rpartition("@n")[2])


def as_seen_from(node: int, ref: str) -> str:
    """How node `node` names a member: bare on its home node, ``name@n<k>`` elsewhere
    (also inside ``member:`` entries of a share's audience)."""
    prefix = "member:" if ref.startswith("member:") else ""
    address = ref.removeprefix("member:")
    if "@n" in address and home_of(address) == node:
        address = address.rpartition("@n")[0]
    return prefix + address


@dataclass
class FedNode:
    i: int
    bed: BedNode
    test: TestNode
    pin: str = ""

    @property
    def name(self) -> str:
        return f"n{self.i}"


def bundle(label: str) -> bytes:
    """A small valid STIX bundle; `label` goes into the indicator's name (a canary)."""
    ts = "2026-11-29T08:00:00.000Z"
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
        "created": ts, "modified": ts, "name": label, "pattern_type": "stix",
        "pattern": "[ipv4-addr:value = '203.0.113.7']", "valid_from": ts}]}).encode()


class Federation:
    """``members[i]`` = the member names homed at node i (1-based); members get classical
    keys unless `hybrid` (post-quantum hybrid keys cost the bed's small machine time)."""

    def __init__(self, tb: Testbed, work: Path, members: Mapping[int, Sequence[str]], *,
                 env: Mapping[str, str] | None = None, hybrid: bool = False) -> None:
        self.tb = tb
        self.hybrid = hybrid
        self.work = work
        self.members = {i: list(ms) for i, ms in members.items()}
        self.env = dict(env or {})
        self.nodes: dict[int, FedNode] = {}
        self.streams: Streams | None = None

    def env_of(self, i: int) -> dict[str, str]:
        node = self.tb.nodes.get(i)
        env = {"VIGIL_FED_NAME": f"n{i}",
               "VIGIL_PUBLIC_URL": node.peer_url if node else
               f"https://10.201.100.{i}:8000"}
        env.update(self.env)
        return env

    def setup(self, *, peer: bool = True, cli_pairs: Sequence[tuple[int, int]] = ((1, 2),)
              ) -> Federation:
        """Make, start and (with `peer`) fully peer the nodes; the pairs in `cli_pairs`
        peer through ``vigil peer add`` run in the node's namespace, the others through the
        same code called in-process on a thread in that namespace (no interpreter start)."""
        for i, names in self.members.items():
            test = make_node(self.work / f"n{i}", dict.fromkeys(names, True),
                             hybrid=self.hybrid)
            bed = self.tb.node(i, test.data, args=["--tls-self-signed"], scheme="https",
                               env=self.env_of(i))
            bed.env.update(self.env_of(i))
            self.nodes[i] = FedNode(i, bed, test)
        for fn in self.nodes.values():
            fn.bed.spawn()
        for fn in self.nodes.values():
            fn.bed.start()
            fn.pin = self.read_pin(fn.i)
        if peer:
            self.peer_all(cli_pairs=cli_pairs)
        return self

    # -- commands in a node's namespace ---------------------------------------------------

    def cli(self, i: int, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        fn = self.nodes[i]
        argv = [sys.executable, "-m", "vigil.cli", "--data", str(fn.test.data), *args]
        r = subprocess.run(self.tb.bed.command(fn.bed.ns, argv), env=fn.bed.env,
                           capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"n{i}: vigil {' '.join(args)}: {r.stdout}{r.stderr}")
        return r

    def read_pin(self, i: int) -> str:
        """The pin an operator reads off its own node (its signed descriptor) and hands
        to the other operators out of band."""
        async def get() -> str:
            async with httpx.AsyncClient(verify=False, timeout=10) as c:
                r = await c.get(self.nodes[i].bed.url + "/.well-known/vigil-node")
                r.raise_for_status()
                return str(r.json()["descriptor"]["pin"])

        pin: str = self.tb.client.run(get())
        if not PIN.fullmatch(pin):
            raise RuntimeError(f"n{i}: not a pin: {pin!r}")
        return pin

    def peer(self, i: int, j: int, *, cli: bool = False) -> None:
        """Node i's operator adds node j (`vigil peer add URL --pin PIN`)."""
        url, pin = self.nodes[j].bed.peer_url, self.nodes[j].pin
        if cli:
            self.cli(i, "peer", "add", url, "--pin", pin)
            return
        from vigil.federation import peers

        def add() -> None:
            ex = open_exchange(self.nodes[i].test.settings)
            try:
                peers.add(ex, url, pin)
            finally:
                ex.store.close()

        call_in(self.nodes[i].bed.ns, add)

    def peer_all(self, pairs: Iterable[tuple[int, int]] | None = None,
                 cli_pairs: Sequence[tuple[int, int]] = ()) -> None:
        ids = sorted(self.nodes)
        for a, b in pairs or [(a, b) for a in ids for b in ids if a < b]:
            self.peer(a, b, cli=(a, b) in cli_pairs)
            self.peer(b, a, cli=(a, b) in cli_pairs)

    def wait_directories(self, timeout: float = 180) -> None:
        """Until every node resolves every member address of every other node (the home
        nodes' member announcements arrived)."""
        everyone = self.addresses()

        last: dict[int, str] = {}

        async def resolves(i: int) -> bool:
            me = member_address(self.members[i][0], i)
            to = [as_seen_from(i, f"member:{a}") for a in everyone if a != me]
            async with httpx.AsyncClient(verify=False, timeout=10) as c:
                r = await self.call(c, me, "POST", "/api/v1/preview",
                                    json={"tlp": "amber", "to": to})
                last[i] = r.text
                return r.status_code == 200

        deadline = time.monotonic() + timeout
        waiting = set(self.nodes)
        while waiting:
            waiting = {i for i in waiting if not self.tb.client.run(resolves(i))}
            if waiting and time.monotonic() > deadline:
                why = "; ".join(f"n{i}: {last.get(i, '')[:300]}" for i in sorted(waiting))
                raise RuntimeError(f"nodes {sorted(waiting)} do not know every member ({why})")
            time.sleep(0.2)

    def status(self, i: int) -> Any:
        return json.loads(self.cli(i, "peer", "status", "--json").stdout)

    # -- the REST API as a member -----------------------------------------------------------

    def token(self, address: str) -> str:
        name, _, node = address.partition("@")
        return self.nodes[int(node[1:])].test.members[name].token

    def member_id(self, address: str) -> str:
        name, _, node = address.partition("@")
        return self.nodes[int(node[1:])].test.members[name].id

    def address_of(self) -> dict[str, str]:
        return {self.member_id(a): a for a in self.addresses()}

    def url_of(self, address: str) -> str:
        return self.nodes[int(address.partition("@")[2][1:])].bed.url

    async def publish(self, client: httpx.AsyncClient, sender: str, to: Sequence[str],
                      label: str, *, tlp: str = "amber") -> dict[str, Any]:
        """Publish as member `sender` (``name@n<i>``) to `to` entries (``member:x@n2``,
        a channel name; a member of the sender's own node is named bare, as that node
        names it); the node's 201/200 answer is the acknowledgement. Like the SDK
        (:mod:`vigil.client.session`), a publish whose connection failed before an answer
        is sent again under the same ``Idempotency-Key`` (a kept-alive connection the
        node closed just as the request went out), up to ``PUBLISH_TRIES`` times."""
        headers = {"Authorization": f"Bearer {self.token(sender)}",
                   "Content-Type": "application/stix+json",
                   "Idempotency-Key": uuid.uuid4().hex}
        params = {"tlp": tlp, "to": [as_seen_from(home_of(sender), t) for t in to]}
        body = bundle(label)  # the same bytes each time: the key names this request
        for attempt in range(PUBLISH_TRIES):
            try:
                r = await client.post(self.url_of(sender) + "/api/v1/shares", params=params,
                                      content=body, headers=headers)
                break
            except httpx.TransportError:
                if attempt == PUBLISH_TRIES - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    async def call(self, client: httpx.AsyncClient, member: str, method: str, path: str,
                   **kw: Any) -> httpx.Response:
        return await client.request(method, self.url_of(member) + path,
                                    headers={"Authorization": f"Bearer {self.token(member)}"},
                                    **kw)

    def addresses(self) -> list[str]:
        return [member_address(m, i) for i, ms in sorted(self.members.items()) for m in ms]


@dataclass
class Event:
    kind: str
    seq: int
    share_id: str
    at: float
    data: dict[str, Any] = field(repr=False)


class Streams:
    """One SSE stream per member, held by the client namespace's loop."""

    def __init__(self, fed: Federation) -> None:
        self.fed = fed
        self.events: dict[str, list[Event]] = defaultdict(list)
        self.last: dict[str, int] = {}
        self.connected: set[str] = set()
        self.tasks: list[concurrent.futures.Future[None]] = []

    def open(self, members: Iterable[str], timeout: float = 30) -> Streams:
        members = list(members)
        for m in members:
            self.tasks.append(self.fed.tb.client.submit(self._hold(m)))
        deadline = time.monotonic() + timeout
        while not set(members) <= self.connected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"streams not open: {set(members) - self.connected}")
            time.sleep(0.05)
        return self

    async def _hold(self, member: str) -> None:
        while True:
            with contextlib.suppress(httpx.TransportError, httpx.HTTPStatusError,
                                     ValueError, KeyError):
                await self._read(member)
            self.connected.discard(member)
            await asyncio.sleep(0.2)

    async def _read(self, member: str) -> None:
        headers = {"Authorization": f"Bearer {self.fed.token(member)}",
                   "Accept": "text/event-stream"}
        if member in self.last:
            headers["Last-Event-ID"] = str(self.last[member])
        timeout = httpx.Timeout(10, read=None)
        async with httpx.AsyncClient(verify=False, timeout=timeout) as c, \
                c.stream("GET", self.fed.url_of(member) + "/api/v1/stream",
                         headers=headers) as r:
            r.raise_for_status()
            self.connected.add(member)
            kind, data = "message", ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data += line[5:].strip()
                elif line == "" and data:
                    doc = json.loads(data)
                    ev = Event(kind, int(doc["seq"]), str(doc["share_id"]), time.time(), doc)
                    self.events[member].append(ev)
                    self.last[member] = ev.seq
                    kind, data = "message", ""

    def shares(self, member: str, kind: str = "share") -> list[str]:
        return [e.share_id for e in self.events.get(member, []) if e.kind == kind]

    def wait(self, done: Any, timeout: float) -> bool:
        """Poll until ``done(self)`` is true or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while not done(self):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        self.tasks.clear()


@dataclass
class SetCheck:
    lost: dict[str, list[str]]
    duplicated: dict[str, list[str]]
    unentitled: dict[str, list[str]]

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unentitled)

    def __str__(self) -> str:
        def n(d: dict[str, list[str]]) -> int:
            return sum(len(v) for v in d.values())

        return (f"lost {n(self.lost)}, duplicated {n(self.duplicated)}, unentitled "
                f"{n(self.unentitled)}")


def set_check(entitled: Mapping[str, Iterable[str]], received: Mapping[str, Sequence[str]],
              members: Iterable[str], senders: Mapping[str, str] | None = None) -> SetCheck:
    """``entitled[share] = members`` who must get it; ``received[member] = share ids`` in
    the order they arrived (one per delivery). Every entitled member exactly once, nobody
    else: Jepsen's set check, per member. Shares not in `entitled` are not judged; a
    sender (``senders[share]``) may see its own share once."""
    want: dict[str, set[str]] = defaultdict(set)
    for share, ms in entitled.items():
        for m in ms:
            want[m].add(share)
    known = set(entitled)
    lost: dict[str, list[str]] = {}
    dup: dict[str, list[str]] = {}
    extra: dict[str, list[str]] = {}
    for m in members:
        got = Counter(s for s in received.get(m, []) if s in known)
        if miss := sorted(want[m] - set(got)):
            lost[m] = miss
        if twice := sorted(s for s, k in got.items() if k > 1):
            dup[m] = twice
        if wrong := sorted(x for x in set(got) - want[m] if (senders or {}).get(x) != m):
            extra[m] = wrong
    return SetCheck(lost, dup, extra)

