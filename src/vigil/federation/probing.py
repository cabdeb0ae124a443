"""When a link that is not up is tried again: the probe schedule of one link
(:mod:`vigil.federation.sender`).

A link that is up sends a heartbeat every ``fed_heartbeat`` seconds. A link that is not
up probes instead, with the same signed heartbeat: the first probe ``FIRST`` seconds
after the one that failed, each next wait twice the one before, up to ``fed_heartbeat``
(0.25, 0.5, 1, 1, … s with the default), counted from the start of the probe before.
A probe's connect (TCP and TLS) waits its interval, at least ``CONNECT_MIN`` and at most
``CONNECT_MAX`` seconds, and the next one starts only after it ends, so one probe at a
time is open. A peer that stays down is thus tried no more often than a peer that is up
is sent heartbeats (once per ``fed_heartbeat``); the pushes of that link wait for a
probe (or the peer's own heartbeat) to get through, so the probe is the only attempt the
down peer sees. A heal is noticed by the next probe, at most one interval after it.
"""

from __future__ import annotations

FIRST = 0.25  # seconds from a failed probe (or the fall of the link) to the next probe
CONNECT_MIN = 0.5  # a probe's connect waits at least this (a slow handshake gets through)
CONNECT_MAX = 1.5  # ... and at most this


class Probes:
    """The probe schedule of one link (used on the event loop)."""

    def __init__(self, every: float) -> None:
        self.every = max(every, 0.0)
        self.interval = self._first()

    def _first(self) -> float:
        return min(FIRST, self.every) if self.every > 0 else FIRST

    def connect(self) -> float:
        """Seconds the next probe's connect may take."""
        return min(CONNECT_MAX, max(CONNECT_MIN, self.interval))

    def failed(self) -> float:
        """A probe failed: seconds from its start to the next one (the wait grows)."""
        wait = self.interval
        self.interval = max(self.interval, min(self.every, self.interval * 2))
        return wait

    def reset(self) -> None:
        """The link is up: the next fall starts the schedule again."""
        self.interval = self._first()
