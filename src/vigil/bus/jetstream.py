"""The shared bus: NATS JetStream as a doorbell between worker processes and hosts.

URL: ``nats://HOST:PORT[,HOST:PORT…][?prefix=NAME&replicas=N]`` (``prefix`` defaults to
``vigil``, ``replicas`` to 1). Each bus

* keeps a JetStream stream ``<PREFIX>_DOORBELL`` on the subjects ``<prefix>.inbox.*``
  (memory storage, messages kept 60 s, at most 100 000): a doorbell, never the only copy
  of anything — shares live in the store;
* rings its own process's subscribers at once, then publishes the member ids (a JSON
  list) on ``<prefix>.inbox.<n>``, ``n`` = CRC-32 of the member id mod 16, one message
  per partition touched -- or, when a ring touches more than two partitions (a share to
  a big channel), in one message on ``<prefix>.inbox.all``, so that the other workers
  wake every stream it concerns at once and serve them with one batched read.
  Publishing happens in a background task, so ``ring`` never waits for NATS and never
  raises: rings that cannot be published are kept (up to 10 000 member ids) and sent
  when the connection is back;
* listens through an ephemeral push consumer (deliver policy NEW) on
  ``<prefix>.inbox.*`` and rings its subscribers for the member ids it receives.

Whenever rings may have been missed — the connection came back, the consumer was
re-created, a gap in the consumer's sequence, a slow-consumer drop — every local
subscriber is rung, and re-reads its inbox from its store cursor. A lost ring only
delays delivery; it never loses anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
import uuid
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import nats
import nats.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, BadRequestError

from vigil.bus.base import LocalHub, Subscription
from vigil.errors import ConfigError

log = logging.getLogger(__name__)

PARTITIONS = 16
MAX_AGE = 60.0
MAX_MSGS = 100_000
CHUNK = 1000  # member ids per message
WIDE = 2  # partitions a ring may touch before it goes out as one message
MAX_PENDING = 10_000  # member ids kept while NATS cannot be reached
ORIGIN_HEADER = "Vigil-Origin"
_PREFIX = re.compile(r"[a-z0-9_-]{1,64}")


def parse_url(url: str) -> tuple[list[str], str, int]:
    """Servers, prefix and stream replicas of a ``nats://`` bus URL."""
    parts = urlsplit(url)
    if parts.scheme != "nats" or not parts.netloc:
        raise ConfigError(f"bad NATS bus URL {url!r}", code="config.bus_url")
    servers = [f"nats://{host}" for host in parts.netloc.split(",") if host]
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - {"prefix", "replicas"}
    if unknown:
        raise ConfigError(
            f"NATS bus URL: unknown parameters {sorted(unknown)}", code="config.bus_url"
        )
    prefix = query.get("prefix", "vigil")
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(
            "NATS bus URL: prefix must be 1-64 of a-z, 0-9, _ and -", code="config.bus_url"
        )
    replicas = query.get("replicas", "1")
    if replicas not in {"1", "2", "3", "4", "5"}:
        raise ConfigError("NATS bus URL: replicas must be 1 to 5", code="config.bus_url")
    return servers, prefix, int(replicas)


def partition(member: str) -> int:
    return zlib.crc32(member.encode("utf-8")) % PARTITIONS


class JetStreamBus:
    def __init__(
        self,
        url: str,
        *,
        start_timeout: float = 5.0,
        reconnect_wait: float = 0.5,
        check_every: float = 5.0,
        api_timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.servers, self.prefix, self.replicas = parse_url(url)
        self.stream = f"{self.prefix.upper()}_DOORBELL"
        self.subjects = f"{self.prefix}.inbox.*"
        self.hub = LocalHub()
        self._start_timeout = start_timeout
        self._reconnect_wait = reconnect_wait
        self._check_every = check_every
        self._api_timeout = api_timeout
        self._origin = uuid.uuid4().hex
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._sub: JetStreamContext.PushSubscription | None = None
        self._consumer: str | None = None
        self._last_dseq = 0
        self._ready = asyncio.Event()  # stream and consumer in place
        self._resync = asyncio.Event()  # (re)create them and ring everyone
        self._wake_publisher = asyncio.Event()
        self._pending: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._publish_failing = False
        self._in_flight = 0
        self._overflow = False

    @property
    def ready(self) -> bool:
        """Connected to NATS, with the doorbell stream and consumer in place."""
        nc = self._nc
        return nc is not None and nc.is_connected and self._ready.is_set()

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Connect and set up the stream and consumer, waiting up to ``start_timeout``.

        If NATS cannot be reached by then, log a warning and return anyway: rings reach
        this process's subscribers, and the bus keeps connecting in the background."""
        if self._tasks:
            return
        self._nc = Client()
        self._tasks = [
            asyncio.create_task(self._supervise(), name="vigil-jetstream-supervisor"),
            asyncio.create_task(self._publish_loop(), name="vigil-jetstream-publisher"),
        ]
        try:
            await asyncio.wait_for(self._ready.wait(), self._start_timeout)
        except TimeoutError:
            log.warning(
                "NATS bus %s: not reachable yet; ringing this process only until it is",
                ", ".join(self.servers),
            )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        nc = self._nc
        # Give rings not yet handed to NATS a moment to go out.
        deadline = time.monotonic() + self._api_timeout
        while (
            (self._pending or self._in_flight)
            and nc is not None and nc.is_connected and self._ready.is_set()
            and time.monotonic() < deadline
        ):
            self._wake_publisher.set()
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if nc is not None:
            if nc.is_connected:
                await self._drop_consumer(self._sub, self._consumer)
            with contextlib.suppress(Exception):
                await nc.close()
        self._ready.clear()
        self.hub.ring_all()

    async def ring(self, members: Iterable[str]) -> None:
        ids = list(dict.fromkeys(members))
        if not ids:
            return
        self.hub.ring_local(ids)
        if self._closed:
            return
        self._keep(ids)
        self._wake_publisher.set()

    def subscribe(self, member: str) -> Subscription:
        return self.hub.subscribe(member)

    async def delete_stream(self) -> None:
        """Remove the doorbell stream (tests, or retiring a prefix); needs a connection."""
        if self._js is None:
            return
        with contextlib.suppress(APIError):
            await self._js.delete_stream(self.stream)

    # -- connection and consumer -----------------------------------------------------
    async def _supervise(self) -> None:
        nc = self._nc
        assert nc is not None
        options: dict[str, Any] = {
            "servers": self.servers,
            "name": f"vigil-{os.getpid()}",
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,  # never give up, also on the first connect
            "reconnect_time_wait": self._reconnect_wait,
            "connect_timeout": 2,
            "ping_interval": 10,
            "max_outstanding_pings": 3,
            "drain_timeout": 2,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
        }
        try:
            await nc.connect(**options)
        except Exception as exc:  # only on bad options: connection errors are retried
            log.error("NATS bus: cannot connect: %s", exc)
            return
        log.info("NATS bus: connected to %s", _where(nc))
        self._js = nc.jetstream(timeout=self._api_timeout)
        self._resync.set()
        setup_failing = False
        while True:
            try:
                await asyncio.wait_for(self._resync.wait(), self._check_every)
            except TimeoutError:
                if not nc.is_connected:
                    continue
                if self._pending:
                    self._wake_publisher.set()
                if await self._consumer_alive():
                    continue
                log.warning("NATS bus: the doorbell consumer is gone; subscribing again")
            self._resync.clear()
            if not nc.is_connected:
                continue  # the reconnected callback sets _resync again
            try:
                await self._setup()
            except Exception as exc:
                (log.debug if setup_failing else log.warning)(
                    "NATS bus: cannot set up the doorbell stream %s: %s; retrying every second",
                    self.stream, exc,
                )
                setup_failing = True
                await asyncio.sleep(1.0)
                self._resync.set()
                continue
            if setup_failing:
                log.info("NATS bus: doorbell stream %s set up", self.stream)
            setup_failing = False
            self._ready.set()
            self._wake_publisher.set()

    async def _setup(self) -> None:
        js = self._js
        assert js is not None
        await self._ensure_stream(js)
        old_sub, old_consumer = self._sub, self._consumer
        config = api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, mem_storage=True)
        sub = await js.subscribe(
            self.subjects,
            cb=self._on_msg,
            stream=self.stream,
            config=config,
            deliver_policy=api.DeliverPolicy.NEW,
        )
        try:
            info = await sub.consumer_info()
        except BaseException:
            await self._drop_consumer(sub, None)
            raise
        self._last_dseq = 0
        self._sub, self._consumer = sub, info.name
        await self._drop_consumer(old_sub, old_consumer)
        # Anything rung before this consumer existed was missed: everyone re-reads.
        self.hub.ring_all()

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        config = api.StreamConfig(
            name=self.stream,
            subjects=[self.subjects],
            retention=api.RetentionPolicy.LIMITS,
            discard=api.DiscardPolicy.OLD,
            max_age=MAX_AGE,
            max_msgs=MAX_MSGS,
            storage=api.StorageType.MEMORY,
            num_replicas=self.replicas,
        )
        try:
            await js.add_stream(config)
        except BadRequestError:  # exists with another configuration
            try:
                await js.update_stream(config)
            except APIError as exc:
                info = await js.stream_info(self.stream)
                if self.subjects not in (info.config.subjects or []):
                    raise
                log.warning("NATS bus: using stream %s as it is (%s)", self.stream, exc)

    async def _consumer_alive(self) -> bool:
        if self._js is None or self._consumer is None:
            return False
        try:
            await self._js.consumer_info(self.stream, self._consumer, timeout=self._api_timeout)
        except Exception as exc:
            log.info("NATS bus: consumer check failed: %s", exc)
            return False
        return True

    async def _drop_consumer(
        self, sub: JetStreamContext.PushSubscription | None, consumer: str | None
    ) -> None:
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if consumer is not None and self._js is not None:
            with contextlib.suppress(Exception):
                await self._js.delete_consumer(self.stream, consumer)

    async def _on_msg(self, msg: Msg) -> None:
        try:
            meta = msg.metadata
        except Exception:  # not a JetStream delivery
            meta = None
        if meta is not None and meta.consumer == self._consumer:
            dseq = meta.sequence.consumer
            if dseq != self._last_dseq + 1:
                self.hub.ring_all()  # a delivery was lost somewhere
            self._last_dseq = dseq
        if msg.headers and msg.headers.get(ORIGIN_HEADER) == self._origin:
            return  # this process rang its own subscribers already
        try:
            members = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            log.warning("NATS bus: ignoring a malformed doorbell on %s", msg.subject)
            return
        if isinstance(members, list):
            self.hub.ring_local(m for m in members if isinstance(m, str))

    async def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, nats.errors.SlowConsumerError):
            log.warning("NATS bus: doorbells dropped (slow consumer); ringing everyone")
            self.hub.ring_all()
        else:
            log.debug("NATS bus: %s: %s", type(exc).__name__, exc)

    async def _on_disconnected(self) -> None:
        self._ready.clear()  # publish again only once the stream is checked
        if not self._closed:
            log.warning("NATS bus: connection lost; reconnecting")

    async def _on_reconnected(self) -> None:
        nc = self._nc
        log.info("NATS bus: reconnected to %s", _where(nc))
        # Rings from other workers may have been missed while away.
        self.hub.ring_all()
        self._resync.set()

    # -- publishing ------------------------------------------------------------------
    def _keep(self, ids: Iterable[str]) -> None:
        for m in ids:
            if len(self._pending) >= MAX_PENDING and m not in self._pending:
                if not self._overflow:
                    log.warning(
                        "NATS bus: %d rings waiting for NATS; dropping further ones "
                        "(subscribers elsewhere re-read their inbox at their next keep-alive)",
                        MAX_PENDING,
                    )
                self._overflow = True
                return
            self._pending.add(m)

    async def _publish_loop(self) -> None:
        while True:
            await self._wake_publisher.wait()
            self._wake_publisher.clear()
            nc = self._nc
            if not self._pending or nc is None or not nc.is_connected or not self._ready.is_set():
                continue  # woken again once connected and set up
            if await self._publish_pending():
                self._overflow = False
                if self._publish_failing:
                    log.info("NATS bus: publishing rings again")
                self._publish_failing = False
            else:
                if not self._publish_failing:
                    log.warning("NATS bus: cannot publish rings; will retry (delivery from "
                                "the store is unaffected)")
                self._publish_failing = True
                await asyncio.sleep(1.0)
                self._wake_publisher.set()

    async def _publish_pending(self) -> bool:
        """Publish the pending rings, one message per partition (and chunk); keep what
        failed. True if everything went out."""
        js = self._js
        if js is None:
            return False
        batch, self._pending = self._pending, set()
        self._in_flight += 1
        try:
            return await self._publish(js, batch)
        finally:
            self._in_flight -= 1

    async def _publish(self, js: JetStreamContext, batch: set[str]) -> bool:
        groups: dict[int | str, list[str]] = {}
        for m in sorted(batch):
            groups.setdefault(partition(m), []).append(m)
        if len(groups) > WIDE:
            groups = {"all": sorted(batch)}
        chunks = [
            (p, ids[i : i + CHUNK]) for p, ids in groups.items() for i in range(0, len(ids), CHUNK)
        ]
        results = await asyncio.gather(
            *(
                js.publish(
                    f"{self.prefix}.inbox.{p}",
                    orjson.dumps(ids),
                    timeout=self._api_timeout,
                    stream=self.stream,
                    headers={ORIGIN_HEADER: self._origin},
                )
                for p, ids in chunks
            ),
            return_exceptions=True,
        )
        ok = True
        for (_, ids), result in zip(chunks, results, strict=True):
            if isinstance(result, BaseException):
                log.debug("NATS bus: publish failed: %r", result)
                self._keep(ids)
                ok = False
        return ok


def _where(nc: Client | None) -> str:
    url = None if nc is None else nc.connected_url
    return "?" if url is None else str(url.netloc)
