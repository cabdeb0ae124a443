"""The retention task of a serving node: purge expired shares every few seconds.

Each pass runs ``vigil.node.accountability.purge_expired`` in a worker thread; a failed pass
(the store is down) is logged and retried at the next interval. Several workers of one
node may run it at once: a share is purged once, by whichever transaction gets it
first.
"""

from __future__ import annotations

import asyncio
import logging

from vigil.node.accountability import purge_expired
from vigil.node.exchange import Exchange

log = logging.getLogger(__name__)


async def run(ex: Exchange, interval: float) -> None:
    """Purge expired shares now and then every ``interval`` seconds (0: never)."""
    if interval <= 0:
        return
    while True:
        try:
            n = await asyncio.to_thread(purge_expired, ex)
            if n:
                log.info("retention purged %d expired share(s)", n)
        except Exception:
            log.exception("retention pass failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)
