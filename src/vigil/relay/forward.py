"""The relay: takes a sealed hop for a node it peers with and passes it on.

It checks only what the outer header says (a destination on its peer list, a random
hop id, an expiry, a bucket-sized blob) and writes one row per hop: ``(hop id,
destination, bucket, time)`` -- the bytes themselves stay in memory until forwarded
(a relay that restarts loses them; the origin resends what its destination never
acknowledged). It logs the destination and the bucket, never the hop id's content nor
anything of the blob; it cannot open the blob (sealed to the destination's hop key).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Collection

from vigil import clock
from vigil.errors import InputError, PolicyDenied
from vigil.relay.hop import Hop, is_bucket
from vigil.storage import trust as q
from vigil.storage.base import Sql, Store

log = logging.getLogger("vigil.relay")
HOP_ID_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
MAX_QUEUED = 10_000

__all__ = ["Relay"]

# (hop) -> True when the next hop took it
Forward = Callable[[Hop], bool]


class Relay:
    def __init__(self, store: Store, peers: Callable[[], Collection[str]],
                 forward: Forward | None = None) -> None:
        self.store = store
        self.peers = peers
        self.forward = forward
        self._queue: deque[Hop] = deque()
        self._lock = threading.Lock()

    def admit(self, hop: Hop) -> bool:
        """Check a hop's outer header and keep its row; False for a hop id seen before
        (``relay.*`` errors for anything malformed or for a node this relay does not
        reach)."""
        if hop.dest not in self.peers():
            raise PolicyDenied("this relay does not reach that node", code="relay.no_route")
        if not HOP_ID_RE.fullmatch(hop.hop_id) or not is_bucket(len(hop.blob)):
            raise InputError("a hop needs a random id and a bucket-sized blob",
                             code="relay.bad_hop")
        if hop.expires <= clock.now():
            raise InputError("the hop expired", code="relay.bad_hop")

        def run(sql: Sql) -> bool:
            return q.add_hop(sql, hop.hop_id, hop.dest, len(hop.blob), clock.now())
        if not self.store.write(run):
            return False
        log.info("relay: hop for %s, %d bytes", hop.dest, len(hop.blob))
        return True

    def accept(self, hop: Hop) -> None:
        """Take a hop for forwarding later by :meth:`pump`."""
        if not self.admit(hop):
            return  # a resend of a hop already taken
        with self._lock:
            if len(self._queue) >= MAX_QUEUED:
                raise PolicyDenied("the relay is full; try later", code="relay.busy")
            self._queue.append(hop)

    def pump(self) -> int:
        """Forward what is queued; how many hops went on (the rest wait)."""
        forward = self.forward
        if forward is None:
            raise ValueError("this relay forwards each hop as it comes")
        sent = 0
        with self._lock:
            pending = list(self._queue)
            self._queue.clear()
        keep: list[Hop] = []
        for hop in pending:
            if hop.expires > clock.now() and not forward(hop):
                keep.append(hop)
            elif hop.expires > clock.now():
                sent += 1
        with self._lock:
            self._queue.extendleft(reversed(keep))
        return sent

    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def forget(self, before: str) -> int:
        """Drop the hop rows older than ``before`` (they only stop replays)."""
        return self.store.write(lambda sql: q.forget_hops(sql, before))

    def hops(self) -> list[tuple[str, str, int, str]]:
        """Everything the relay keeps: (hop id, destination, bucket, time) per hop."""
        return self.store.read(q.hops)
