"""The federation service of a running node: push, heartbeats and pull, per peer.

Per destination up to ``WINDOW`` batches are in flight: the next one is built and sent
while the ones before it travel, and their acks are taken in order (the destination
stores a batch that comes early once the ones before it are stored:
``receiver.receive_in_turn``). A round (a push, a pull) starts with ``FIRST`` items and
doubles each batch up to ``BATCH``, so after a heal the first share is stored after a
short batch. A publish wakes the link at once: the outbox hook tells it the dseq it
queued, inside the publishing transaction, and the link waits for that row's commit
rather than for the next heartbeat. A refused push (``fed.gap``, ``fed.replay``) moves
the sender to the destination's cursor; any other failure backs off exponentially with
jitter (cap 30 s), ended early when the link comes up: a heartbeat that gets through
(either way: one from the peer wakes the link too). A link that is not up is probed on
the schedule of :mod:`vigil.federation.probing` (0.25 s growing to ``fed_heartbeat``),
beats before its first batch (the revocations a heartbeat carries overtake the queue),
and a push round begun while it was not up is given up when it comes up and begun again
at once (its connections may hang on the cut they were opened through). Connections
time out after ``CONNECT`` seconds. Every ``fed_heartbeat`` seconds each link that is up
sends its head; a node that hears a head past its cursor pulls from that origin, and
flags the link ``withheld`` when the pull does not close the gap. A peer added ``via``
a relay is reached through it: its link's client seals every request to the peer
(:mod:`vigil.federation.transport`); nothing else here differs.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx
import orjson

from vigil import clock
from vigil.config import Settings
from vigil.crypto.kem import EncPrivate
from vigil.errors import VigilError
from vigil.federation import codec, held, outbox, peers, probing, receiver, tls, transport
from vigil.federation.batches import BATCH, FIRST, build_batch, grown, heartbeat_body
from vigil.federation.descriptor import hop_key, tls_pair
from vigil.federation.peers import Peer
from vigil.node.exchange import Exchange
from vigil.storage import federation as q
from vigil.storage.base import serialize_writes

log = logging.getLogger(__name__)

WINDOW = 3  # batches in flight per destination (each acked in order)
BACKOFF_CAP = 30.0
CONNECT = transport.CONNECT  # seconds to connect (TCP and TLS) before a try counts as failed
COMMIT_WAIT = 2.0  # seconds a link waits for a row it was told of to be committed
LEASE = 5.0  # seconds a worker holds the node's sender lease without renewing it
Ring = Callable[[Iterable[str]], Awaitable[None]]


def client_for(service: Service, peer: Peer, timeout: float = 30.0) -> httpx.AsyncClient:
    """A client to ``peer``: to its address, or through its relay (``transport``)."""
    return transport.async_client(service.ex, service.hop_key(), peer, timeout,
                                  service.tls_pair)


class Link:
    """This node's side of the link to one peer."""

    def __init__(self, service: Service, peer: Peer) -> None:
        self.service = service
        self.peer = peer
        self.wake = asyncio.Event()
        self.came_up = asyncio.Event()  # set while up; set on a heal ends a backoff
        self.probes = probing.Probes(float(service.settings.fed_heartbeat))
        self.answers = 0  # pushes answered (whatever the answer), a push's own beat too
        self.pull_wanted = asyncio.Event()
        self.client = client_for(service, peer)
        self.tasks: list[asyncio.Task[None]] = []
        self.state = "new"
        self.error: str | None = None
        self.backoff = 0.0
        # the highest dseq a publish told of (its transaction may not have committed)
        self.told = 0

    @property
    def ex(self) -> Exchange:
        return self.service.ex

    def start(self) -> None:
        name = self.peer.name
        self.tasks = [asyncio.create_task(self._push_loop(), name=f"fed-push-{name}"),
                      asyncio.create_task(self._heartbeat_loop(), name=f"fed-hb-{name}"),
                      asyncio.create_task(self._pull_loop(), name=f"fed-pull-{name}")]

    async def stop(self) -> None:
        # cancelled again until done: asyncio.wait_for (3.11) returns the result of an
        # awaitable that completes as the cancel arrives, so a wait for the wake event
        # can swallow one cancel and its loop go on
        for t in self.tasks:
            while not t.done():
                t.cancel()
                await asyncio.wait({t}, timeout=0.5)
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.client.aclose()

    async def _request(self, method: str, path: str, body: bytes = b"",
                       params: Mapping[str, Any] | None = None,
                       timeout: httpx.Timeout | None = None) -> httpx.Response:
        url = self.peer.url + path
        target = httpx.URL(url, params=params)
        sign_path = target.raw_path.decode()
        header = codec.sign_request(self.ex.node_key, method, sign_path, self.ex.node_id,
                                    self.peer.node, body)
        return await self.client.request(
            method, target, content=body,
            headers={codec.HEADER: header, "content-type": "application/json"},
            timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout)

    def _ok(self) -> None:
        self.state, self.error, self.backoff = "up", None, 0.0
        self.came_up.set()

    def _down(self, why: str) -> None:
        self.state, self.error = "down", why
        self.came_up.clear()

    async def _failed(self, why: str) -> None:
        self._down(why)
        await asyncio.to_thread(self.ex.store.write,
                                lambda sql: q.set_error(sql, self.peer.node, why[:500]))
        self.backoff = min(BACKOFF_CAP, max(0.1, self.backoff * 2))
        # the link coming up (a heartbeat that gets through, either way) ends the wait
        # early; a publish does not: its push would only wait on the cut connection
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.came_up.wait(),
                                   self.backoff * (0.5 + random.random() / 2))

    async def _set_acked(self, cursor: int) -> None:
        now = clock.now()
        await asyncio.to_thread(self.ex.store.write,
                                lambda sql: q.set_acked(sql, self.peer.node, cursor, now))

    # -- push ------------------------------------------------------------------------
    def tell(self, dseq: int) -> None:
        """A row for this peer with this dseq is being committed: send it once it is."""
        self.told = max(self.told, dseq)
        self.wake.set()

    async def push_once(self) -> bool:
        """Send the batches after the acked cursor, up to ``WINDOW`` in flight; True if
        the link may have more. Acks are taken in order: a batch answered with another
        cursor than its end (refused, or the destination elsewhere) ends the round, and
        the next one starts from the cursor the destination named."""
        head, acked, *_ = await asyncio.to_thread(
            self.ex.store.read, lambda sql: q.link(sql, self.peer.node))
        if head <= acked:
            return False
        if self.state != "up":  # its heartbeat first: the revocations overtake the queue
            await self.heartbeat_once(own=True)
        size = FIRST
        batch: dict[str, Any] | None = await asyncio.to_thread(build_batch, self.ex,
                                                               self.peer.node, acked, size)
        assert batch is not None
        if not batch["batch"]["items"]:
            return False  # its first item waits (outbox.Held): a wake or a beat retries
        start = acked
        flying: collections.deque[tuple[int, asyncio.Future[int]]] = collections.deque()
        try:
            while batch is not None or flying:
                if batch is not None:
                    to = int(batch["batch"]["to"])
                    flying.append((to, asyncio.ensure_future(self._send(batch))))
                    batch = None
                    if head > to:
                        # the next batch, built while the ones before it travel
                        size = grown(size)
                        built = await asyncio.to_thread(build_batch, self.ex,
                                                        self.peer.node, to, size)
                        batch = built if built["batch"]["items"] else None
                if batch is not None and len(flying) < WINDOW:
                    continue
                to, sent = flying.popleft()
                cursor = await sent
                if cursor == to:
                    await self._set_acked(cursor)
                    acked = cursor
                    continue
                if acked != start and cursor < acked:
                    # answered before the batches acked in this round were stored (a
                    # worker that did not see them): go on from the acked ones
                    return True
                await self._set_acked(cursor)
                # a cursor that did not move (a hole in this outbox at the peer's next
                # item): wait for a wake or a beat rather than send the same batch
                # again at once
                return cursor != acked
            return acked != start
        finally:
            for _, f in flying:
                f.cancel()
            if flying:
                await asyncio.gather(*(f for _, f in flying), return_exceptions=True)

    async def _send(self, batch: dict[str, Any]) -> int:
        """POST one batch; the peer's cursor (after a 409, the one it names)."""
        batch = self.service.tamper(self.peer.node, batch)
        r = await self._request("POST", "/batch", orjson.dumps(batch))
        self.answers += 1
        if r.status_code == 200:
            ack = codec.open_signed(orjson.loads(r.content), codec.TAG_ACK, "ack",
                                    self.peer.key)
            if ack.get("origin") != self.ex.node_id or ack.get("dest") != self.peer.node:
                raise VigilError("an ack for another link", code="fed.bad_item")
            self._ok()
            return int(ack["cursor"])
        err = _error(r)
        if r.status_code == 409 and err.get("code") in ("fed.gap", "fed.replay"):
            self._ok()
            return int(err["detail"]["cursor"])
        raise VigilError(f"{self.peer.name} answered {r.status_code} "
                         f"{err.get('code', '')}: {err.get('message', '')}",
                         code="fed.unreachable")

    async def _committed(self) -> bool:
        """Wait (briefly) for the rows a publish told of to be committed; True once the
        outbox holds them, False when none is pending or the wait ran out (the
        transaction failed: its dseq is taken again by the next row)."""
        deadline = time.monotonic() + COMMIT_WAIT
        while True:
            head = (await asyncio.to_thread(
                self.ex.store.read, lambda sql: q.link(sql, self.peer.node)))[0]
            if head >= self.told:
                return head > 0 and self.told > 0
            if time.monotonic() > deadline:
                self.told = head
                return False
            await asyncio.sleep(0.002)

    async def push_round(self) -> bool:
        """``push_once``; begun while the link is not up, it is given up (and True
        answered: begin again) once the link comes up before it got any answer."""
        if self.state == "up":
            return await self.push_once()
        self.came_up.clear()
        answers = self.answers
        push = asyncio.ensure_future(self.push_once())
        up = asyncio.ensure_future(self.came_up.wait())
        try:
            await asyncio.wait({push, up}, return_when=asyncio.FIRST_COMPLETED)
            if not push.done() and self.answers != answers:
                await push  # its own requests get through (they brought the link up)
        finally:
            up.cancel()
            if not push.done():
                push.cancel()
            await asyncio.gather(push, up, return_exceptions=True)
        return push.result() if not push.cancelled() else True

    async def _push_loop(self) -> None:
        while True:
            try:
                more = await self.push_round()
            except (httpx.HTTPError, VigilError, OSError, KeyError, ValueError) as e:
                await self._failed(str(e) or type(e).__name__)
                continue
            if not more:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=1.0)
                self.wake.clear()
                await self._committed()

    # -- heartbeat -------------------------------------------------------------------
    async def heartbeat_once(self, own: bool = False) -> None:
        head, acked, *_ = await asyncio.to_thread(
            self.ex.store.read, lambda sql: q.link(sql, self.peer.node))
        head = self.service.claimed_head(self.peer.node, head)
        body = await asyncio.to_thread(heartbeat_body, self.ex, self.peer.node, head, acked,
                                       self.service.heartbeat_extra)
        # a link that is not up is probed with a shorter connect timeout: a connection
        # to a peer that is cut off silently hangs until it, and the next probe (a fresh
        # SYN) comes only after it (vigil.federation.probing)
        probe = None if self.state == "up" else \
            httpx.Timeout(30.0, connect=self.probes.connect())
        r = await self._request("POST", "/heartbeat", orjson.dumps(body), timeout=probe)
        if r.status_code != 200:
            err = _error(r)
            raise VigilError(f"heartbeat: {r.status_code} {err.get('code', '')}",
                             code="fed.unreachable")
        self.answers += own
        got = orjson.loads(r.content)
        if int(got["cursor"]) < acked:  # the peer is behind what it acked: resend
            await self._set_acked(int(got["cursor"]))
            self.wake.set()
        if self.state != "up" or head > acked:
            self.wake.set()  # the link is back: push now, not after the backoff
        self._ok()

    async def _heartbeat_loop(self) -> None:
        every = float(self.service.settings.fed_heartbeat)
        while True:
            began = time.monotonic()
            try:
                await self.heartbeat_once()
            except (httpx.HTTPError, VigilError, OSError, KeyError, ValueError) as e:
                self._down(str(e) or type(e).__name__)
            if self.state == "up":
                self.probes.reset()
                await asyncio.sleep(every)
            else:  # probed again on the schedule, from this probe's start
                await asyncio.sleep(max(0.0, self.probes.failed()
                                        - (time.monotonic() - began)))

    # -- pull ------------------------------------------------------------------------
    async def pull_once(self, limit: int = BATCH) -> int:
        """Fetch and apply up to ``limit`` items this peer holds for this node after its
        cursor; the number of items applied. Flags the link withheld when a gap stays."""
        cur, *_ = await asyncio.to_thread(
            self.ex.store.read, lambda sql: q.cursor(sql, self.peer.node))
        r = await self._request("GET", "/outbox", params={"after": cur, "limit": limit})
        if r.status_code != 200:
            err = _error(r)
            raise VigilError(f"pull: {r.status_code} {err.get('code', '')}",
                             code="fed.unreachable")
        data = orjson.loads(r.content)
        applied = 0
        if data["batch"]["items"]:
            try:
                got = await asyncio.to_thread(receiver.receive, self.ex, self.peer, data)
                applied = len(data["batch"]["items"])
                await self.service.ring(got.ring)
            except VigilError as e:
                if e.code not in ("fed.gap", "fed.replay"):
                    raise
        cur_after = await asyncio.to_thread(
            self.ex.store.read, lambda sql: q.cursor(sql, self.peer.node))
        if cur_after[0] < cur_after[1]:
            flag = f"head {cur_after[1]}, cursor {cur_after[0]}, since {clock.now()}"
            if cur_after[4] is None:
                log.warning("%s withholds items: %s", self.peer.name, flag)
                await asyncio.to_thread(self.ex.store.write, lambda sql: q.set_withheld(
                    sql, self.peer.node, flag))
        return applied

    async def _pull_loop(self) -> None:
        while True:
            await self.pull_wanted.wait()
            self.pull_wanted.clear()
            limit = FIRST
            try:
                while await self.pull_once(limit) >= limit:
                    limit = grown(limit)
            except (httpx.HTTPError, VigilError, OSError, KeyError, ValueError) as e:
                log.info("pull from %s failed: %s", self.peer.name, e)


def _error(r: httpx.Response) -> dict[str, Any]:
    try:
        err = orjson.loads(r.content).get("error", {})
    except (orjson.JSONDecodeError, AttributeError):
        return {}
    return err if isinstance(err, dict) else {}


class Service:
    """Every link of this node, kept in step with the peers table."""

    def __init__(self, ex: Exchange, settings: Settings, ring: Ring) -> None:
        self.ex = ex
        self.settings = settings
        self._ring = ring
        self.links: dict[str, Link] = {}
        self.refused: VigilError | None = None
        self.hooks = outbox.install(ex)
        held.configure(ex, settings)  # the bounds of channel items held for members
        self.hooks.listeners.append(self._woken)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        # test seams: change a batch before it leaves, or the head a heartbeat claims
        self.tampers: list[Callable[[str, dict[str, Any]], dict[str, Any]]] = []
        self.head_claims: dict[str, int] = {}
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        # more a heartbeat carries, by name (vigil.federation.trust adds "trust")
        self.heartbeat_parts: dict[str, Callable[[str], Any]] = {}
        self._hop_key: EncPrivate | None = None
        # this node's TLS pair: its client certificate to its peers, pinned by them
        self.tls_pair = tls_pair(settings)

    def hop_key(self) -> EncPrivate:
        """This node's hop key (it opens what comes back through a relay)."""
        if self._hop_key is None:
            self._hop_key = hop_key(self.settings.data_dir)
        return self._hop_key

    def heartbeat_extra(self, dest: str) -> dict[str, Any]:
        return {name: part(dest) for name, part in self.heartbeat_parts.items()}

    def tamper(self, dest: str, batch: dict[str, Any]) -> dict[str, Any]:
        for fn in self.tampers:
            batch = fn(dest, batch)
        return batch

    def claimed_head(self, dest: str, head: int) -> int:
        return self.head_claims.get(dest, head)

    async def ring(self, members: Iterable[str]) -> None:
        ms = sorted(set(members))
        if ms:
            await self._ring(ms)

    def _woken(self, dseqs: Mapping[str, int]) -> None:  # from the writer's thread
        loop = self._loop
        if loop is None:
            return
        for d, dseq in dseqs.items():
            link = self.links.get(d)
            if link is not None:
                loop.call_soon_threadsafe(link.tell, dseq)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(peers.check_durable, self.ex.store)
        except VigilError as e:
            self.refused = e
            log.error("federation refused: %s", e.message)
            return
        self._task = asyncio.create_task(self._keep(), name="fed-peers")

    async def _keep(self) -> None:
        """Start and stop links as peers are added and removed; announce the log."""
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("federation refresh failed")
            await asyncio.sleep(0.5)

    async def refresh(self) -> None:
        if self.tls_pair is not None:  # every worker: the peers its TLS layer lets in
            pems = await asyncio.to_thread(tls.peer_certs, self.ex.store)
            tls.trust_peers(self.tls_pair[0], pems)

        def lease(sql: Any) -> bool:
            serialize_writes(sql)
            return q.take_lease(sql, self.owner, time.time(), LEASE)

        if not await asyncio.to_thread(self.ex.store.write, lease):
            for node in list(self.links):  # another worker of this node sends
                await self.links.pop(node).stop()
            return
        current = {p.node: p for p in await asyncio.to_thread(peers.peers, self.ex.store)}
        for node in list(self.links):
            if node not in current or current[node] != self.links[node].peer:
                await self.links.pop(node).stop()
        for node, p in current.items():
            if node not in self.links:
                link = Link(self, p)
                self.links[node] = link
                link.start()

        def scan(sql: Any) -> list[str]:
            before = {n: q.link(sql, n)[0] for n in current}
            for n in current:
                outbox.sync(self.ex, sql, n)
            return [n for n in current if q.link(sql, n)[0] != before[n]]

        for n in await asyncio.to_thread(self.ex.store.write, scan):
            self.links[n].wake.set()

    def heard(self, origin: str) -> None:
        """A heartbeat came from ``origin``: the link to it, if down, is tried now
        (a heal is noticed by whichever side's beat gets through first)."""
        link = self.links.get(origin)
        if link is not None and link.state != "up":
            link.wake.set()
            link.came_up.set()  # a backoff ends, a push begun on the cut begins again

    def want_pull(self, origin: str) -> None:
        link = self.links.get(origin)
        if link is not None:
            link.pull_wanted.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for link in list(self.links.values()):
            await link.stop()
        self.links.clear()
        with contextlib.suppress(Exception):  # the next worker takes over at once
            await asyncio.to_thread(self.ex.store.write,
                                    lambda sql: q.drop_lease(sql, self.owner))
        if self._woken in self.hooks.listeners:
            self.hooks.listeners.remove(self._woken)
