"""``Idempotency-Key`` on publishes (the IETF httpapi draft
draft-ietf-httpapi-idempotency-key-header).

A client that did not get the answer to a publish (the connection dropped, the node
restarted) sends the same request again with the same key. The answer to the first is
stored with the key, in the transaction that stores the share, so:

* same member, same key, same request (method, path, query and body): the stored
  answer (status and body) again, and no second share, whether the first request was
  answered or not;
* same member, same key, another request: ``422 idempotency.key_reused``, nothing
  stored;
* keys are the member's own: another member's key of the same value is another key;
* a key is kept ``RETAIN`` (24 hours) after its first use, then forgotten (a request
  with it is then a new one);
* a request that fails stores no answer: sent again it runs again;
* the same key sent by two workers at once: the second waits for the first's
  transaction and answers with the first's stored answer.

A key is 1-255 printable ASCII characters, sent bare or as a structured-field string
(``"…"``); anything else, or the header twice, is ``400 idempotency.bad_key``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from vigil import clock
from vigil.errors import InputError
from vigil.node.hooks import Claim, Committed, Published
from vigil.storage import idempotency as stored
from vigil.storage.base import Sql
from vigil.web.deps import State

HEADER = "idempotency-key"
RETAIN = timedelta(hours=24)
MAX_KEY = 255


def key_of(request: Request) -> str | None:
    """The request's idempotency key, if it has one."""
    values = request.headers.getlist(HEADER)
    if not values:
        return None
    value = values[0].strip() if len(values) == 1 else ""
    if len(value) >= 2 and value[0] == value[-1] == '"':  # an sf-string
        value = value[1:-1]
    if not (1 <= len(value) <= MAX_KEY and all(0x20 <= ord(c) < 0x7F for c in value)
            and '"' not in value and "\\" not in value):
        raise InputError(f"Idempotency-Key must be one value of 1-{MAX_KEY} printable ASCII "
                         "characters", code="idempotency.bad_key", pointer="")
    return value


def fingerprint(request: Request, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(),
                 request.url.query.encode()):
        h.update(len(part).to_bytes(8, "big") + part)
    h.update(body)
    return h.hexdigest()


class _Taken(Exception):
    """The key was stored by a request that committed first."""


def _replay(got: stored.Stored, fp: str) -> tuple[int, bytes]:
    if got[0] != fp:
        raise InputError("this Idempotency-Key was used for another request",
                         code="idempotency.key_reused", pointer="", status=422)
    return got[1], got[2]


Answer = Callable[[Published], dict[str, Any]]


Run = Callable[[Claim | None, Committed], Published]


class EarlyRing:
    """The streams of a new share's recipients rung from the publishing thread as soon
    as its transaction has committed (``Committed``): fan-out starts while the publish
    finishes its after-publish work and comes back to the event loop, never before
    the share is durable. ``rung`` then waits for that ring (its error is the
    request's, as before), or rings now if there was none (a share stored before, a
    replayed answer)."""

    def __init__(self, st: State, member: str) -> None:
        self.bus = st.bus
        self.member = member
        self.loop = asyncio.get_running_loop()
        self.early: concurrent.futures.Future[None] | None = None

    def __call__(self, pub: Published) -> None:  # in the publishing thread
        self.early = asyncio.run_coroutine_threadsafe(
            self.bus.ring((*pub.recipients, self.member)), self.loop)

    async def rung(self, recipients: Sequence[str]) -> None:
        if self.early is not None:
            await asyncio.wrap_future(self.early)
        else:
            await self.bus.ring((*recipients, self.member))


async def publish_once(request: Request, st: State, member: str, body: bytes,
                       run: Run, answer: Answer) -> Response:
    """Run a publish (``run`` takes the claim to make in the share's transaction and
    the callback for its commit) as its member's heavy work and answer it, at most
    once per idempotency key. The recipients' streams are rung at the commit
    (``EarlyRing``)."""
    key = key_of(request)
    ring = EarlyRing(st, member)
    if key is None:
        pub = await st.heavy(member, run, None, ring)
        await ring.rung(pub.recipients)
        return JSONResponse(answer(pub), status_code=201 if pub.new else 200)
    fp = fingerprint(request, body)
    store = st.exchange.store

    def once() -> tuple[int, bytes, list[str]]:
        cutoff = clock.fmt(datetime.now(UTC) - RETAIN)
        got = store.read(lambda sql: stored.lookup(sql, member, key, cutoff))
        if got is not None:
            status, out = _replay(got, fp)
            return status, out, orjson.loads(out).get("recipients", [])

        def keep(sql: Sql, pub: Published) -> None:
            status = 201 if pub.new else 200
            if not stored.claim(sql, member, key, fp, status, orjson.dumps(answer(pub)),
                                pub.envelope.id, clock.now(), cutoff):
                raise _Taken

        try:
            pub = run(keep, ring)
        except _Taken:
            got = store.read(lambda sql: stored.lookup(sql, member, key, cutoff))
            assert got is not None
            status, out = _replay(got, fp)
            return status, out, orjson.loads(out).get("recipients", [])
        if not pub.new:  # the share was stored before, without this key: keep it now
            store.write(lambda sql: keep(sql, pub))
        return 201 if pub.new else 200, orjson.dumps(answer(pub)), list(pub.recipients)

    status, out, recipients = await st.heavy(member, once)
    # rung again on a replay too: the first answer may have died with its process
    await ring.rung(recipients)
    return Response(out, status_code=status, media_type="application/json")
