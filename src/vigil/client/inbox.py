"""The member's inbox: paged (``Inbox``) and live over Server-Sent Events (``Stream``,
and ``NoticeStream`` for correlation notices), each delivery's order and log proof
checked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson

from vigil.client.errors import Refused, check_order, raise_for
from vigil.client.proofs import LogProofs
from vigil.client.receipts import Receipts
from vigil.client.session import envelope_of
from vigil.errors import CryptoError, Unavailable, VigilError
from vigil.model import Envelope

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class InboxItem:
    seq: int
    share_id: str
    added: str
    envelope: Envelope
    state: dict[str, Any]
    log_index: int | None = None  # its entry in the node's log, proof checked


class Inbox(Iterator[InboxItem]):
    """Iterate a member's inbox page by page; ``cursor`` says where to resume."""

    def __init__(self, client: Reading, after: int, page: int) -> None:
        self.client = client
        self.cursor = after
        self.page = page
        self._items: list[InboxItem] = []
        self._next_cursor = after
        self._done = False

    def __iter__(self) -> Inbox:
        return self

    def __next__(self) -> InboxItem:
        while not self._items:
            if self._done:
                raise StopIteration
            items, nxt = self.client.inbox_page(self.cursor, self.page)
            if nxt == self.cursor:
                self._done = True
            self._items = items
            self._next_cursor = nxt
            if not items:
                self.cursor = nxt
        item = self._items.pop(0)
        check_order(item.seq, self.cursor, item.share_id)
        self.cursor = self._next_cursor if not self._items else item.seq
        self.client._delivered(item)
        return item


class _Follow(AsyncIterator[T]):
    """A Server-Sent Events resource of the node followed across reconnects with
    Last-Event-ID; ``cursor`` is the last event's seq. Subclasses name the path and
    turn each event into an item."""

    path = ""

    def __init__(self, client: Reading, after: int) -> None:
        self.client = client
        self.cursor = after
        self.reconnects = 0
        self._gen: AsyncIterator[T] | None = None

    def __aiter__(self) -> _Follow[T]:
        return self

    async def __anext__(self) -> T:
        if self._gen is None:
            self._gen = self._run()
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        if self._gen is not None:
            await self._gen.aclose()  # type: ignore[attr-defined]

    async def _item(self, event: dict[str, Any]) -> T:
        raise NotImplementedError

    async def _run(self) -> AsyncIterator[T]:
        c = self.client
        backoff = 0.5
        async with httpx.AsyncClient(base_url=c.url, timeout=httpx.Timeout(
                30.0, read=None), headers=c.auth_headers,
                transport=c.async_transport) as http:
            while True:
                try:
                    async with http.stream("GET", self.path, headers={
                            "Last-Event-ID": str(self.cursor)}) as resp:
                        if resp.status_code >= 400:
                            await resp.aread()
                            raise_for(resp)
                        data: list[str] = []
                        async for line in resp.aiter_lines():
                            if line.startswith("data:"):
                                data.append(line[5:].lstrip())
                            elif line == "" and data:
                                e = orjson.loads("\n".join(data))
                                data = []
                                item = await self._item(e)
                                self.cursor = int(e["seq"])
                                backoff = 0.5
                                yield item
                except (httpx.TransportError, Unavailable):
                    # dropped, or the node's store or bus is down: keep the cursor, retry
                    pass
                self.reconnects += 1
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 15.0)


class Stream(_Follow[InboxItem]):
    """The live inbox; reconnects with Last-Event-ID; ``cursor`` is the last seq. Every
    share's log proof is checked as in ``inbox()``; an event out of order, a share
    delivered twice, or a share whose proof fails raises :class:`Refused` (the cursor
    stays before it)."""

    path = "/api/v1/stream"

    def __init__(self, client: Reading, after: int) -> None:
        super().__init__(client, after)
        self._seen: set[str] = set()

    async def _item(self, event: dict[str, Any]) -> InboxItem:
        seq, share_id = int(event["seq"]), str(event["share_id"])
        check_order(seq, self.cursor, share_id)
        doc = event["envelope"]
        state = doc["state"]
        withdrawn = bool(state.get("recalled") or state.get("purged"))
        if not withdrawn and share_id in self._seen:
            raise Refused(CryptoError("this share was delivered already: a replay",
                                      code="client.stream_replay"), seq, share_id)
        try:
            env = envelope_of(doc)
            if env.id != share_id:
                raise CryptoError("the event names another share than its envelope",
                                  code="client.stream_mismatch")
            logged = await asyncio.to_thread(self.client._logged, env, doc.get("log"))
        except VigilError as exc:
            raise Refused(exc, seq, share_id) from exc
        self._seen.add(share_id)
        item = InboxItem(seq, share_id, event["added"], env, state, logged)
        await asyncio.to_thread(self.client._delivered, item)
        return item


class NoticeStream(_Follow[dict[str, Any]]):
    """The member's correlation notices as the node finds them (the objects of
    ``correlations()``); reconnects with Last-Event-ID; ``cursor`` is the last seq."""

    path = "/api/v1/correlations/stream"

    async def _item(self, event: dict[str, Any]) -> dict[str, Any]:
        return event


class Reading(LogProofs, Receipts):
    def inbox_page(self, after: int = 0, limit: int = 100) -> tuple[list[InboxItem], int]:
        doc = self._call("GET", "/api/v1/inbox", params={"after": after, "limit": limit})
        items = [self._item(e) for e in doc["entries"]]
        return items, int(doc["next"])

    def _item(self, e: dict[str, Any]) -> InboxItem:
        env = envelope_of(e["envelope"])
        return InboxItem(e["seq"], e["share_id"], e["added"], env, e["envelope"]["state"],
                         self._logged(env, e["envelope"].get("log")))

    def inbox(self, after: int = 0, page: int = 100) -> Inbox:
        """Every inbox entry after a cursor, in order. The returned iterator's
        ``cursor`` is where to resume from later (``client.inbox(after=cursor)``): the
        last entry handed out, or further when the node skipped entries this member may
        no longer read."""
        return Inbox(self, after, page)

    def stream(self, after: int = 0) -> Stream:
        """The live inbox as an async iterator (Server-Sent Events): the backlog after
        the cursor, then every new share as it arrives. It reconnects on its own with
        ``Last-Event-ID`` (back-off up to 15 s) when the connection drops or the node is
        unavailable; its ``cursor`` is the last seq received."""
        return Stream(self, after)

    def notices_stream(self, after: int = 0) -> NoticeStream:
        """This member's correlation notices as an async iterator (Server-Sent Events):
        those after the cursor, then each one as soon as the node finds the match;
        reconnects as ``stream`` does."""
        return NoticeStream(self, after)

    def _delivered(self, item: InboxItem) -> None:
        """A share reached this client: say so; a recalled one: drop it, acknowledge."""
        if item.state.get("recalled"):
            self._recalled(item.envelope)
        else:
            self._auto_receipt(item.envelope, "received")
