"""Batched inbox reads for the push path.

When a share is stored, every live stream of its recipients wakes in the same
event-loop turn and asks for its inbox after its cursor. ``PageBatcher`` collects
those requests and serves them with one store read (one SQL query; one round trip on
PostgreSQL) instead of one per stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from vigil.model import Envelope, InboxEntry, ShareState

Page = tuple[list[tuple[InboxEntry, Envelope, ShareState]], int, bool]
PagesFn = Callable[[Sequence[tuple[str, int]], int], list[Page]]
FastFn = Callable[[Sequence[tuple[str, int]], int], Awaitable[list[Page] | None]]
BATCH = 100  # entries per stream per read
T = TypeVar("T")


class PageBatcher(Generic[T]):
    """Serves ``page(member, cursor)`` calls made together with one ``pages`` call.

    ``after``, when given, is a second read made once per batch right after its pages
    (with ``run``, like them); ``page_after`` returns its value with the page: a
    stream's read of the credential epoch, which must come after its inbox read, is
    then one read for every stream the share woke, in the same step, instead of a
    second round of a hundred waits.

    ``run`` runs the (blocking) ``pages`` function, inline or in a thread; ``fast``,
    when given, is tried first: the same read on the event loop (None: not possible
    for this batch, use ``pages``). A read that fails is retried request by request, so
    that one request that cannot be served (a bad cursor) fails alone. With
    ``coalesce`` > 0 the batcher waits that long for more requests before reading: for
    a store across the network, whose wake-ups may arrive in several bus messages.
    """

    def __init__(self, run: Callable[..., Awaitable[Any]], pages: PagesFn,
                 coalesce: float = 0.0, fast: FastFn | None = None,
                 after: Callable[[], T] | None = None) -> None:
        self.run = run
        self.pages = pages
        self.fast = fast
        self.after = after
        self.coalesce = coalesce
        self.pending: list[tuple[str, int, asyncio.Future[tuple[Page, T | None]]]] = []
        self.running: set[asyncio.Task[None]] = set()

    async def page(self, member: str, cursor: int) -> Page:
        return (await self.page_after(member, cursor))[0]

    async def page_after(self, member: str, cursor: int) -> tuple[Page, T | None]:
        """The page, and the ``after`` read made after it (None without ``after``)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[Page, T | None]] = loop.create_future()
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

    async def _read(self, batch: list[tuple[str, int, asyncio.Future[tuple[Page, T | None]]]]
                    ) -> None:
        requests = [(m, c) for m, c, _ in batch]
        try:
            pages = await self.fast(requests, BATCH) if self.fast is not None else None
            if pages is None:
                pages = await self.run(self.pages, requests, BATCH)
            then = await self.run(self.after) if self.after is not None else None
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
                fut.set_result((page, then))

    @staticmethod
    def _fail(batch: list[tuple[str, int, asyncio.Future[tuple[Page, T | None]]]],
              exc: BaseException) -> None:
        for _, _, fut in batch:
            if not fut.done():
                fut.set_exception(exc)
