"""The worker threads of a running app, waited for before its store closes.

The app's background tasks (feed pulls, retention, TAXII run merges, federation links,
witnessing rounds) and its request handlers hand their store work to threads
(``asyncio.to_thread``, ``loop.run_in_executor(None, ...)``). Cancelling a task does not
stop a thread already running for it: at shutdown, a feed pull could still be reading
SQLite when the store closed (a closed connection in use by another thread crashes the
process, or the pull fails with "Cannot operate on a closed database").

:meth:`Workers.install` makes a :class:`Workers` pool the running loop's default
executor for the app's life, so every such call is counted without its caller knowing;
shutdown cancels the tasks, then :meth:`Workers.settle` waits (at most ``bound``
seconds, the loop running on) until no call is under way, before the store closes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

SETTLE = 30.0  # seconds shutdown waits for the calls under way before it gives up
POLL = 0.02  # seconds between two looks at the calls under way


class Workers(concurrent.futures.ThreadPoolExecutor):
    """A thread pool that counts the calls submitted and not yet ended."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="vigil-worker")
        self._lock = threading.Lock()
        self._busy = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: concurrent.futures.ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
               ) -> concurrent.futures.Future[T]:
        def counted() -> T:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self._busy -= 1

        with self._lock:
            self._busy += 1
        try:
            return super().submit(counted)
        except BaseException:  # not taken (the pool shut down): never ran
            with self._lock:
                self._busy -= 1
            raise

    def busy(self) -> int:
        """The calls submitted and not ended (queued or running)."""
        with self._lock:
            return self._busy

    @classmethod
    def install(cls) -> Workers:
        """A new pool as the running loop's default executor (``asyncio.to_thread``'s)."""
        loop = asyncio.get_running_loop()
        pool = cls()
        previous = getattr(loop, "_default_executor", None)
        if isinstance(previous, concurrent.futures.ThreadPoolExecutor):
            pool._previous = previous
        pool._loop = loop
        loop.set_default_executor(pool)
        return pool

    async def settle(self, bound: float = SETTLE) -> bool:
        """Wait until no call is under way, at most ``bound`` seconds; whether none is.
        The loop's executor from before comes back (this pool, if there was none: it
        is shut down with the loop)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        while self.busy() and loop.time() < deadline:
            await asyncio.sleep(POLL)
        settled = self.busy() == 0
        if self._previous is not None and self._loop is loop:
            loop.set_default_executor(self._previous)
            self.shutdown(wait=False)  # its threads end once their calls have
        return settled
