"""The merges of the TAXII object-id runs, off the request path (SQLite).

A share's transaction only appends its ids as a new run (``vigil.storage.taxii_runs``);
the merges of runs into larger ones happen here, in bounded steps, each its own
transaction (``taxii_runs.step``), so a publish waits at most for one step and never for
a whole merge of millions of ids. A serving node runs ``run`` as a task: it does every
pending step, then looks again after ``interval`` seconds. Several workers may run it
at once: each step reads and writes the merge's state in its transaction.
"""

from __future__ import annotations

import asyncio
import logging

from vigil.node.exchange import Exchange
from vigil.storage import taxii_runs

log = logging.getLogger(__name__)


def merge_pending(ex: Exchange, steps: int | None = None) -> int:
    """Do the pending merge steps (at most ``steps``); the number done."""
    done = 0
    while (steps is None or done < steps) and ex.store.write(taxii_runs.step):
        done += 1
    return done


async def run(ex: Exchange, interval: float = 1.0) -> None:
    """Do the pending merge steps now and then every ``interval`` seconds (one step
    per thread call, so that cancelling stops after the step under way). Looks for work
    in a read, so an idle node takes no write lock; never on PostgreSQL (one run)."""
    if ex.store.dialect == "postgresql":
        return
    while True:
        try:
            if await asyncio.to_thread(ex.store.read, taxii_runs.pending):
                while await asyncio.to_thread(ex.store.write, taxii_runs.step):
                    pass
        except Exception:
            log.exception("merge of TAXII id runs failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)
