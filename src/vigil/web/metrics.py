"""A node's Prometheus metrics (text format, `prometheus-client`), one registry per app.

Labels name routes by their template (``/api/v1/shares/{share_id}``), methods and
status codes only: never a member, a share id, a value or anything else a request
carries. Counters and histograms move as the node works; the gauges that describe the
store (log size, feed lag, correlation backlog) are read from it at each scrape.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from vigil.feeds.registry import list_feeds
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.storage.base import Sql, Store
from vigil.storage.correlations import correlation_mark
from vigil.storage.health import last_share_seq, log_size

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "token_ok"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0, 300.0)


def epoch_seconds(stamp: str) -> float:
    """A vigil time (RFC 3339, 'Z') as seconds since the epoch."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def seconds_since(stamp: str, now: float | None = None) -> float:
    """Seconds from a vigil time (RFC 3339, 'Z') to now; never negative."""
    return max(0.0, (time.time() if now is None else now) - epoch_seconds(stamp))


def store_error(exc: BaseException) -> bool:
    """An exception raised by a store's database driver (SQLite or PostgreSQL)."""
    return any(c.__module__.split(".")[0] in ("sqlite3", "psycopg", "psycopg_pool")
               for c in type(exc).__mro__)


def token_ok(presented: str | None, expected: str) -> bool:
    """A scrape token check in constant time; no token configured: never."""
    if not expected or presented is None:
        return False
    return hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8"))


class _ErrorCounter(logging.Handler):
    """Counts the warnings and errors a logger (the bus's) reports."""

    def __init__(self, counter: Counter) -> None:
        super().__init__(logging.WARNING)
        self.counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        self.counter.inc()


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("vigil_http_requests", "HTTP requests answered, by route "
                                "template, method and status", ["route", "method", "status"],
                                registry=r)
        self.request_seconds = Histogram("vigil_http_request_duration_seconds",
                                         "Time to answer an HTTP request (streams: until "
                                         "they close)", ["route", "method"],
                                         buckets=LATENCY_BUCKETS, registry=r)
        self.publish_seconds = Histogram("vigil_publish_seconds", "From a share's creation "
                                         "(its signed header) to its durable commit",
                                         buckets=LATENCY_BUCKETS, registry=r)
        self.delivery_seconds = Histogram("vigil_delivery_seconds", "From a share's commit "
                                          "to an inbox to its push on a stream",
                                          buckets=LATENCY_BUCKETS, registry=r)
        self.open_streams = Gauge("vigil_open_streams", "Push streams open now", registry=r)
        self.store_errors = Counter("vigil_store_errors", "Store operations that failed",
                                    registry=r)
        self.bus_errors = Counter("vigil_bus_errors", "Warnings and errors the bus reported",
                                  registry=r)
        self.log_size = Gauge("vigil_log_entries", "Entries in the transparency log",
                              registry=r)
        self.feed_lag = Gauge("vigil_feed_lag_seconds", "Longest time since a feed was "
                              "last pulled (0 without feeds)", registry=r)
        self.feed_errors = Gauge("vigil_feeds_failing", "Feeds whose last pull failed",
                                 registry=r)
        self.correlation_backlog = Gauge("vigil_correlation_backlog", "Shares stored but "
                                         "not yet correlated", registry=r)
        self._bus_handler = _ErrorCounter(self.bus_errors)
        # the labelled children of each (route, method, status) seen: a few dozen at most
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        # the stamp of the share last delivered and its time: a share goes to every
        # stream of its recipients in a row, its stamp parsed once
        self._added: tuple[str, float] = ("", 0.0)
        # delivery times taken as events are sent, put in the histogram after the
        # event-loop turn that sent them (see ``delivered``)
        self._deliveries: list[float] = []

    # -- wiring ---------------------------------------------------------------------
    def install(self, ex: Exchange) -> None:
        ex.published_hooks.append(self.published)
        logging.getLogger("vigil.bus").addHandler(self._bus_handler)

    def uninstall(self, ex: Exchange) -> None:
        if self.published in ex.published_hooks:
            ex.published_hooks.remove(self.published)
        logging.getLogger("vigil.bus").removeHandler(self._bus_handler)

    def answered(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(route, method, str(status)),
                self.request_seconds.labels(route, method))
        children[0].inc()
        children[1].observe(seconds)

    def published(self, p: Published) -> None:
        self.publish_seconds.observe(seconds_since(str(p.envelope.header["created"])))

    def delivered(self, added: str) -> None:
        """An event sent on a stream: its time since the share was stored. On an event
        loop the time is taken now and put in the histogram by a callback queued after
        the streams woken with this one, so that the last of a hundred streams does not
        wait for the histogram updates of the ninety-nine before it."""
        stamp, then = self._added
        if stamp != added:
            then = epoch_seconds(added)
            self._added = (added, then)
        seconds = max(0.0, time.time() - then)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.delivery_seconds.observe(seconds)
            return
        if not self._deliveries:
            loop.call_soon(self._observe_deliveries)
        self._deliveries.append(seconds)

    def _observe_deliveries(self) -> None:
        done, self._deliveries = self._deliveries, []
        for seconds in done:
            self.delivery_seconds.observe(seconds)

    # -- scrape ---------------------------------------------------------------------
    def refresh(self, store: Store) -> None:
        """Read the store-side gauges (a few indexed reads)."""
        def read(sql: Sql) -> tuple[int, int, int]:
            return log_size(sql), last_share_seq(sql), correlation_mark(sql)

        try:
            size, last, mark = store.read(read)
            feeds = list_feeds(store)
        except Exception:
            self.store_errors.inc()
            raise
        self.log_size.set(size)
        self.correlation_backlog.set(max(0, last - mark))
        now = time.time()
        lags = [seconds_since(f.last_pull or f.created, now) for f in feeds]
        self.feed_lag.set(max(lags, default=0.0))
        self.feed_errors.set(sum(1 for f in feeds if f.last_error))

    def render(self) -> bytes:
        return generate_latest(self.registry)
