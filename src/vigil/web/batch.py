"""Batched inbox reads for the push path.

When a share is stored, every live stream of its recipients wakes in the same
event-loop turn and asks for its inbox after its cursor. ``PageBatcher`` collects
those requests and serves them with one store read (one SQL query; one round trip on
PostgreSQL) instead of one per stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from vigil.model import Envelope, InboxEntry, ShareState

Page = tuple[list[tuple[InboxEntry, Envelope, ShareState]], int, bool]
PagesFn = Callable[[Sequence[tuple[str, int]], int], list[Page]]
FastFn = Callable[[Sequence[tuple[str, int]], int], Awaitable[list[Page] | None]]
BATCH = 100  # entries per stream per read
T = TypeVar("T")


class PageBatcher:
    """Serves ``page(member, cursor)`` calls made together with one ``pages`` call.

    ``run`` runs the (blocking) ``pages`` function, inline or in a thread; ``fast``,
    when given, is tried first: the same read on the event loop (None: not possible
    for this batch, use ``pages``). A read that fails is retried request by request, so
    that one request that cannot be served (a bad cursor) fails alone. With
    ``coalesce`` > 0 the batcher waits that long for more requests before reading: for
    a store across the network, whose wake-ups may arrive in several bus messages.
    """

    def __init__(self, run: Callable[..., Awaitable[list[Page]]], pages: PagesFn,
                 coalesce: float = 0.0, fast: FastFn | None = None) -> None:
        self.run = run
        self.pages = pages
        self.fast = fast
        self.coalesce = coalesce
        self.pending: list[tuple[str, int, asyncio.Future[Page]]] = []
        self.running: set[asyncio.Task[None]] = set()

    async def page(self, member: str, cursor: int) -> Page:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Page] = loop.create_future()
        if not self.pending:
            if self.coalesce > 0:
                loop.call_later(self.coalesce, self._flush)
            else:
                loop.call_soon(self._flush)
        self.pending.append((member, cursor, fut))
        return await fut

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        task = asyncio.ensure_future(self._read(batch))
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _read(self, batch: list[tuple[str, int, asyncio.Future[Page]]]) -> None:
        requests = [(m, c) for m, c, _ in batch]
        try:
            pages = await self.fast(requests, BATCH) if self.fast is not None else None
            if pages is None:
                pages = await self.run(self.pages, requests, BATCH)
        except Exception as exc:
            if len(batch) > 1:
                # one request's fault must not end the others' streams: read each alone,
                # so only a request that fails on its own gets the error
                await asyncio.gather(*(self._read([one]) for one in batch))
            else:
                self._fail(batch, exc)
            return
        except BaseException as exc:
            self._fail(batch, exc)
            return
        for (_, _, fut), page in zip(batch, pages, strict=True):
            if not fut.done():
                fut.set_result(page)

    @staticmethod
    def _fail(batch: list[tuple[str, int, asyncio.Future[Page]]], exc: BaseException) -> None:
        for _, _, fut in batch:
            if not fut.done():
                fut.set_exception(exc)

class Coalesced(Generic[T]):
    """One read shared by every caller of the same event-loop turn: the streams a
    share wakes together ask for the credential epoch with one store read, which
    starts after each of them asked."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self.read = read
        self.pending: asyncio.Future[T] | None = None

    async def get(self) -> T:
        if self.pending is None:
            loop = asyncio.get_running_loop()
            self.pending = loop.create_future()
            loop.call_soon(self._flush)
        return await asyncio.shield(self.pending)

    def _flush(self) -> None:
        fut, self.pending = self.pending, None
        assert fut is not None

        def done(task: asyncio.Task[T]) -> None:
            if task.cancelled():
                fut.cancel()
            elif task.exception() is not None:
                fut.set_exception(task.exception())  # type: ignore[arg-type]
            else:
                fut.set_result(task.result())

        asyncio.ensure_future(self.read()).add_done_callback(done)
