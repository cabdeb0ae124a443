"""A node as a hostile operator shows it to a member's SDK: JSON answers changed on the way
(``Proxy`` with an ``Alter``), the push stream's events edited (``StreamEdit``), proofs
withheld or stripped, events replayed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson

Alter = Callable[[httpx.Request, Any], Any]


class Proxy(httpx.BaseTransport):
    """The node, as a hostile operator shows it: ``alter(request, json)`` may change
    any JSON answer. Every request it forwards is kept (the node received it)."""

    def __init__(self, alter: Alter | None = None) -> None:
        self.inner = httpx.HTTPTransport()
        self.alter = alter
        self.sent: list[bytes] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(str(request.url).encode() + b"\n" + request.read())
        resp = self.inner.handle_request(request)
        if self.alter is None or not resp.headers.get("content-type", "").startswith(
                "application/json"):
            return resp
        doc = orjson.loads(resp.read())
        return httpx.Response(resp.status_code, json=self.alter(request, doc))

    def close(self) -> None:
        self.inner.close()


class StreamEdit(httpx.AsyncBaseTransport):
    """The push stream, as a hostile operator shows it: ``edit`` turns the list of
    events (each a dict of SSE fields, ``data`` parsed) seen so far into those sent."""

    def __init__(self, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.edit = edit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resp = await self.inner.handle_async_request(request)
        if request.url.path != "/api/v1/stream" or resp.status_code != 200:
            return resp
        edit = self.edit

        class Body(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                buf = b""
                assert isinstance(resp.stream, httpx.AsyncByteStream)
                async for chunk in resp.stream:
                    buf += chunk
                    while b"\n\n" in buf:
                        block, buf = buf.split(b"\n\n", 1)
                        fields = dict(line.split(b": ", 1) for line in block.split(b"\n")
                                      if b": " in line and not line.startswith(b":"))
                        if b"data" not in fields:
                            yield block + b"\n\n"
                            continue
                        ev = {k.decode(): v.decode() for k, v in fields.items()}
                        ev["data"] = orjson.loads(ev["data"])
                        for out in edit([ev]):
                            yield (f"id: {out['data']['seq']}\nevent: {out['event']}\n"
                                   f"data: {orjson.dumps(out['data']).decode()}\n\n").encode()

            async def aclose(self) -> None:
                await resp.aclose()

        return httpx.Response(200, headers=resp.headers, stream=Body())


def only(path: str, change: Callable[[Any], Any]) -> Alter:
    def alter(request: httpx.Request, doc: Any) -> Any:
        return change(doc) if request.url.path == path else doc
    return alter


def no_proofs(change: Callable[[Any], Any] | None = None) -> Alter:
    """A node that withholds every share's proof: ``change`` alters the inbox page,
    and the share itself comes without its ``log``."""
    def alter(request: httpx.Request, doc: Any) -> Any:
        p = request.url.path
        if p.startswith("/api/v1/shares/"):
            return {k: v for k, v in doc.items() if k != "log"}
        return change(doc) if change and p == "/api/v1/inbox" else doc
    return alter


def strip_proof(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for ev in events:
        ev["data"]["envelope"].pop("log", None)
    return events


class Replay:
    """Sends each event, then the same share again under a fresh seq (``same=False``)
    or its own seq (``same=True``)."""

    def __init__(self, *, same: bool) -> None:
        self.same = same

    def __call__(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for ev in events:
            again = orjson.loads(orjson.dumps(ev))
            if not self.same:
                again["data"]["seq"] += 10_000
            out += [ev, again]
        return out
