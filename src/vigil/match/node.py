"""The node's side of private selector matching: it relays and counts, and holds only
OPRF outputs (a member's index) and blinded elements -- never a selector, never a key.

1. A holder's client publishes its index: the OPRF outputs of its selectors under its
   own key (``put_index``).
2. An asker's client blinds a selector and posts the blinded element (``ask``): counted
   against the asker's rate (429 ``match.rate_limited`` beyond ``match_rate`` queries
   per ``match_window``); the query goes to every other active member with an index.
3. Each holder's client evaluates the blinded element with its key (``pending``,
   ``evaluate``).
4. The asker's client unblinds each evaluation into that holder's OPRF output of the
   selector and asks the node which holders' indexes hold it (``lookup``): the answer
   names holders and nothing else.
5. Disclosure takes the holder's consent (``ask_disclosure``): a consent request of use
   ``disclose`` that only a holder the query found can be asked.

A member who does not hold the selector learns nothing; the asker can only test
selectors it asks for one by one, at the node's rate. The tables are
``vigil.storage.intel``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vigil import clock
from vigil.consent.service import PENDING, ConsentRequest, check_reason, record
from vigil.crypto import oprf
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.errors import InputError, NotFound, VigilError
from vigil.node.exchange import Exchange
from vigil.storage import intel as db

MAX_INDEX = 100_000
DISCLOSE = "disclose"


class RateLimited(VigilError):
    """An asker over its private-matching rate."""

    code = "match.rate_limited"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many selector queries; retry after {retry_after} s")
        self.headers = {"Retry-After": str(retry_after)}


def _bytes(text: Any, size: int, pointer: str) -> bytes:
    try:
        raw = b64u_decode(str(text))
    except ValueError:
        raw = b""
    if len(raw) != size:
        raise InputError(f"must be {size} bytes, base64url", code="match.malformed",
                         pointer=pointer)
    return raw


def _instant(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _missing() -> NotFound:
    return NotFound("no such selector query", code="match.not_found")


def put_index(ex: Exchange, member: str, outputs: Iterable[Any]) -> int:
    """Replace the member's index with these OPRF outputs (64 bytes each, base64url)."""
    raw = sorted({b64u(_bytes(o, oprf.NH, f"/outputs/{i}")) for i, o in enumerate(outputs)})
    if len(raw) > MAX_INDEX:
        raise InputError(f"an index holds at most {MAX_INDEX} outputs", code="match.malformed",
                         pointer="/outputs")
    return db.index_replace(ex.store, member, raw)


def ask(ex: Exchange, asker: str, blinded: Any) -> dict[str, Any]:
    """Post a blinded selector; the holders it goes to. 429 past the asker's rate."""
    element = oprf.check_element(_bytes(blinded, oprf.NE, "/blinded"))
    rules = ex.intel_rules
    now = clock.now()
    since = clock.fmt(_instant(now) - timedelta(seconds=rules.match_window))
    active = ex.directory().active_member_ids()
    holders: list[str] = []

    def make(times: list[str], members: list[str]) -> tuple[str, str, str, str]:
        if len(times) >= rules.match_rate:
            wait = _instant(times[0]) + timedelta(seconds=rules.match_window) - _instant(now)
            raise RateLimited(max(1, int(wait.total_seconds()) + 1))
        holders[:] = sorted(m for m in members if m != asker and m in active)
        return (f"match--{uuid.uuid4()}", b64u(element), now,
                orjson.dumps(holders).decode())

    qid, _ = db.query_insert(ex.store, asker, since, rules.match_rate, make)
    return {"id": qid, "holders": holders, "created": now}


def pending(ex: Exchange, holder: str, limit: int = 100) -> list[dict[str, Any]]:
    """The queries awaiting this holder's evaluation (blinded elements only: the node
    never tells a holder who asked)."""
    out = [{"id": str(r[0]), "blinded": str(r[1])} for r in db.pending_for(ex.store, holder)
           if holder in orjson.loads(r[2])]
    return out[:limit]


def _query(ex: Exchange, qid: str) -> tuple[str, list[str]]:
    got = db.query_get(ex.store, str(qid))
    if got is None:
        raise _missing()
    return str(got[0]), [str(h) for h in orjson.loads(got[1])]


def evaluate(ex: Exchange, holder: str, qid: str, evaluated: Any) -> None:
    """Record a holder's evaluation of a query sent to it."""
    _, holders = _query(ex, qid)
    if holder not in holders:
        raise _missing()
    element = oprf.check_element(_bytes(evaluated, oprf.NE, "/evaluated"))
    db.evaluation_insert(ex.store, qid, holder, b64u(element))


def result(ex: Exchange, asker: str, qid: str) -> dict[str, Any]:
    """The asker's view of its query: each holder's evaluation, and who has not yet."""
    owner, holders = _query(ex, qid)
    if owner != asker:
        raise _missing()
    got = db.evaluations_of(ex.store, qid)
    return {"id": qid, "evaluations": got, "waiting": [h for h in holders if h not in got]}


def lookup(ex: Exchange, asker: str, qid: str, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Which holders' indexes hold the asker's outputs: ``{"hits": [member ids]}``."""
    owner, holders = _query(ex, qid)
    if owner != asker:
        raise _missing()
    wanted: list[tuple[str, str]] = []
    for holder, out in sorted(outputs.items()):
        if holder not in holders:
            raise InputError("an output for a member the query did not go to",
                             code="match.malformed", pointer=f"/outputs/{holder[:80]}")
        wanted.append((holder, b64u(_bytes(out, oprf.NH, f"/outputs/{holder[:80]}"))))
    return {"hits": db.lookup(ex.store, qid, wanted)}


def ask_disclosure(ex: Exchange, asker: str, qid: str, holder: str,
                   reason: str) -> ConsentRequest:
    """Ask a holder that the asker's query found to disclose what it holds: a consent
    request (use ``disclose``) whose subject is the query. Only the holder can disclose
    (the node never holds the selector); its signed grant or refusal is logged like any
    other. 404 unless the query is the asker's and found the selector at that holder."""
    reason = check_reason(reason)
    try:
        owner, _ = _query(ex, qid)
    except NotFound:
        owner = ""
    if owner != asker or not db.was_hit(ex.store, qid, holder):
        raise NotFound("no such selector query, or not the caller's, or no hit there",
                       code="match.not_found")
    return record(ex, ConsentRequest(f"consent--{uuid.uuid4()}", qid, asker, holder, DISCLOSE,
                                     reason, clock.now(), PENDING))
