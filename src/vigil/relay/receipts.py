"""Receipts back through a relay, batched and sent only at fixed ticks.

A receipt sent the moment a hop arrives would tell the relay which inbound hop it
answers (Martiny et al., NDSS 2021: delivery receipts link sealed-sender
correspondents within a few messages). The destination instead queues its acks per
origin and releases them only on a tick of a fixed period, all together, each batch
sealed and padded like any hop; what the relay sees no longer follows the arrivals.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ReceiptBatcher"]


class ReceiptBatcher:
    def __init__(self, period: float = 5.0, now: Callable[[], float] = time.time) -> None:
        if period <= 0:
            raise ValueError("period must be positive")
        self.period = period
        self._now = now
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self._tick = int(now() // period)
        self._lock = threading.Lock()

    def add(self, origin: str, receipt: dict[str, Any]) -> None:
        with self._lock:
            self._pending.setdefault(origin, []).append(receipt)

    def due(self) -> dict[str, list[dict[str, Any]]]:
        """Everything queued, if a new tick began since the last release; else nothing."""
        tick = int(self._now() // self.period)
        with self._lock:
            if tick == self._tick:
                return {}
            self._tick = tick
            out, self._pending = self._pending, {}
            return out
