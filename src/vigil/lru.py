"""A small thread-safe least-recently-used map, bounded by entries and, if given a
weight, by bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most ``size`` entries and, with ``weigh`` (an entry's bytes), at most
    ``max_bytes`` in all: the least recently used go first. An entry heavier than
    ``max_bytes`` is not kept."""

    def __init__(self, size: int, *, max_bytes: int | None = None,
                 weigh: Callable[[V], int] | None = None) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self._weigh = weigh if max_bytes is not None else None
        self._data: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0  # the weight held

    def get(self, key: K) -> V | None:
        with self._lock:
            held = self._data.get(key)
            if held is None:
                return None
            self._data.move_to_end(key)
            return held[0]

    def put(self, key: K, value: V) -> None:
        weight = self._weigh(value) if self._weigh is not None else 0
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            if self.max_bytes is not None and weight > self.max_bytes:
                return
            self._data[key] = (value, weight)
            self.bytes += weight
            while len(self._data) > self.size or (
                    self.max_bytes is not None and self.bytes > self.max_bytes):
                self.bytes -= self._data.popitem(last=False)[1][1]

    def pop(self, key: K) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]

    def __len__(self) -> int:
        return len(self._data)
