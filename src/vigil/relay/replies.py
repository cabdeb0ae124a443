"""Requests this node sent through a relay, waiting for their sealed answers.

An answer comes back in a batch the destination releases at its next tick
(:mod:`vigil.relay.receipts`), through the relay, to this node's ``/fed/v1/hop/replies``;
it is matched to its request by the random nonce sealed inside both. One registry per
exchange (``Exchange.attach``), shared by the async and sync transports and the route.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

__all__ = ["Answer", "Replies"]

Answer = tuple[int, str, bytes]  # status, content type, body


class Replies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, Future[Answer]] = {}

    def expect(self, nonce: str) -> Future[Answer]:
        """A future for the answer to the request sealed with ``nonce``."""
        got: Future[Answer] = Future()
        with self._lock:
            self._waiting[nonce] = got
        return got

    def forget(self, nonce: str) -> None:
        with self._lock:
            self._waiting.pop(nonce, None)

    def deliver(self, nonce: str, answer: Answer) -> bool:
        """Hand an opened answer to its waiting request; False if none waits (it gave
        up, or the answer is a replay)."""
        with self._lock:
            got = self._waiting.pop(nonce, None)
        if got is None or got.done():
            return False
        got.set_result(answer)
        return True

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)
