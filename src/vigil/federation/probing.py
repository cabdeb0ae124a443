"""When a link that is not up is tried again: the probe schedule of one link
(:mod:`vigil.federation.sender`).

A link that is up sends a heartbeat every ``fed_heartbeat`` seconds. A link that is not
up probes instead, with the same signed heartbeat: the first probe ``FIRST`` seconds
after the one that failed, each next wait twice the one before, up to ``fed_heartbeat``
(0.25, 0.5, 1, 1, … s with the default), counted from the start of the probe before.
A probe's connect (TCP and TLS) waits ``CONNECT`` seconds, and the next probe starts
only after it ends, so one probe at a time is open. On a silent cut each probe hangs
that long (the kernel sends its SYN again after 1 s), so a SYN leaves at 0, 1, 1.5,
2.5, 3, … s; a peer that refuses at once is probed on the schedule itself. A peer that
stays down thus gets at most one connection attempt per ``fed_heartbeat`` once the
schedule reached it, as a peer that is up gets heartbeats; the pushes of that link
wait for a probe (or the peer's own heartbeat) to get through, so the probes are the
only attempts the down peer sees. A heal is noticed by the next SYN of a probe.
"""

from __future__ import annotations

FIRST = 0.25  # seconds from a failed probe (or the fall of the link) to the next probe
CONNECT = 1.5  # seconds a probe's connect (TCP and TLS) may take; a slow handshake gets in


class Probes:
    """The probe schedule of one link (used on the event loop)."""

    def __init__(self, every: float) -> None:
        self.every = max(every, 0.0)
        self.interval = self._first()

    def _first(self) -> float:
        return min(FIRST, self.every) if self.every > 0 else FIRST

    @staticmethod
    def connect() -> float:
        """Seconds the next probe's connect may take."""
        return CONNECT

    def failed(self) -> float:
        """A probe failed: seconds from its start to the next one (the wait grows)."""
        wait = self.interval
        self.interval = max(self.interval, min(self.every, self.interval * 2))
        return wait

    def reset(self) -> None:
        """The link is up: the next fall starts the schedule again."""
        self.interval = self._first()
