"""The feed scheduler: a background task of ``vigil serve`` (asyncio, no cron).

It pulls each feed when its interval has passed since its last pull. A feed's lease in
the store makes one pull at a time run, whichever worker or command started it; the
members the published shares went to are rung on the node's bus.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from vigil.errors import VigilError
from vigil.feeds import registry
from vigil.node.exchange import Exchange

log = logging.getLogger("vigil.feeds")
MAX_SLEEP = 5.0
MIN_SLEEP = 0.2


async def run(exchange: Exchange, ring: Callable[[Iterable[str]], Awaitable[None]]) -> None:
    """Pull due feeds forever (cancel the task to stop)."""
    while True:
        wait = MAX_SLEEP
        try:
            due, wait = await asyncio.to_thread(registry.due_feeds, exchange.store,
                                                datetime.now(UTC))
            if due:
                from vigil.feeds.pull import pull_claimed  # taxii2-client: only when needed
            for name in due:
                try:
                    result = await asyncio.to_thread(pull_claimed, exchange, name)
                except VigilError as exc:
                    if exc.code != "feed.busy":
                        log.warning("feed %s: pull failed [%s]: %s", name, exc.code,
                                    exc.message)
                    continue
                except Exception:
                    log.exception("feed %s: pull failed", name)
                    continue
                if result.recipients:
                    await ring(tuple(result.recipients))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("feed scheduler")
        await asyncio.sleep(min(MAX_SLEEP, max(MIN_SLEEP, wait)))
