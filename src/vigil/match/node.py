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
   names holders and nothing else; disclosure then takes the holder's consent.

A member who does not hold the selector learns nothing; the asker can only test
selectors it asks for one by one, at the node's rate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vigil import clock
from vigil.crypto import oprf
from vigil.crypto.encoding import b64u, b64u_decode
from vigil.errors import InputError, NotFound, VigilError
from vigil.exchange import Exchange
from vigil.storage.base import Sql

MAX_INDEX = 100_000


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

    def tx(sql: Sql) -> int:
        sql.execute("DELETE FROM match_index WHERE member_id=?", (member,))
        sql.executemany("INSERT INTO match_index (member_id, output) VALUES (?, ?)",
                        [(member, o) for o in raw])
        return len(raw)

    return ex.store.write(tx)


def ask(ex: Exchange, asker: str, blinded: Any) -> dict[str, Any]:
    """Post a blinded selector; the holders it goes to. 429 past the asker's rate."""
    element = oprf.check_element(_bytes(blinded, oprf.NE, "/blinded"))
    rules = ex.intel_rules
    now = clock.now()
    since = clock.fmt(_instant(now) - timedelta(seconds=rules.match_window))
    active = ex.directory().active_member_ids()

    def tx(sql: Sql) -> dict[str, Any]:
        rows = sql.execute("SELECT created FROM match_queries WHERE asker=? AND created>? "
                           "ORDER BY created", (asker, since)).fetchall()
        if len(rows) >= rules.match_rate:
            first = _instant(str(rows[0][0]))
            wait = first + timedelta(seconds=rules.match_window) - _instant(now)
            raise RateLimited(max(1, int(wait.total_seconds()) + 1))
        holders = sorted(str(r[0]) for r in sql.execute(
            "SELECT DISTINCT member_id FROM match_index").fetchall()
            if str(r[0]) != asker and str(r[0]) in active)
        qid = f"match--{uuid.uuid4()}"
        sql.execute("INSERT INTO match_queries (id, asker, blinded, created, holders) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (qid, asker, b64u(element), now, orjson.dumps(holders).decode()))
        return {"id": qid, "holders": holders, "created": now}

    return ex.store.write(tx)


def pending(ex: Exchange, holder: str, limit: int = 100) -> list[dict[str, Any]]:
    """The queries awaiting this holder's evaluation (blinded elements only: the node
    never tells a holder who asked)."""
    rows = ex.store.query(
        "SELECT q.id, q.blinded, q.holders FROM match_queries q WHERE NOT EXISTS "
        "(SELECT 1 FROM match_evaluations e WHERE e.query_id=q.id AND e.holder=?) "
        "ORDER BY q.created, q.id", (holder,))
    out = [{"id": str(r[0]), "blinded": str(r[1])} for r in rows
           if holder in orjson.loads(r[2])]
    return out[:limit]


def _query(ex: Exchange, qid: str) -> tuple[str, list[str]]:
    rows = ex.store.query("SELECT asker, holders FROM match_queries WHERE id=?", (qid,))
    if not rows:
        raise _missing()
    return str(rows[0][0]), [str(h) for h in orjson.loads(rows[0][1])]


def evaluate(ex: Exchange, holder: str, qid: str, evaluated: Any) -> None:
    """Record a holder's evaluation of a query sent to it."""
    _, holders = _query(ex, qid)
    if holder not in holders:
        raise _missing()
    element = oprf.check_element(_bytes(evaluated, oprf.NE, "/evaluated"))
    ex.store.write(lambda sql: sql.execute(
        "INSERT INTO match_evaluations (query_id, holder, evaluated) VALUES (?, ?, ?) "
        "ON CONFLICT (query_id, holder) DO NOTHING", (qid, holder, b64u(element))))


def result(ex: Exchange, asker: str, qid: str) -> dict[str, Any]:
    """The asker's view of its query: each holder's evaluation, and who has not yet."""
    owner, holders = _query(ex, qid)
    if owner != asker:
        raise _missing()
    got = {str(h): str(e) for h, e in ex.store.query(
        "SELECT holder, evaluated FROM match_evaluations WHERE query_id=?", (qid,))}
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

    def tx(sql: Sql) -> list[str]:
        hits: list[str] = []
        for holder, o in wanted:
            if sql.execute("SELECT 1 FROM match_index WHERE member_id=? AND output=?",
                           (holder, o)).fetchone() is not None:
                hits.append(holder)
                # remembered, so that the asker may ask this holder for disclosure
                sql.execute("UPDATE match_evaluations SET hit=? WHERE query_id=? AND holder=?",
                            (True, qid, holder))
        return hits

    return {"hits": ex.store.write(tx)}


def was_hit(ex: Exchange, asker: str, qid: str, holder: str) -> bool:
    """Did the asker's query find the selector in this holder's index?"""
    owner, _ = _query(ex, qid)
    return owner == asker and bool(ex.store.query(
        "SELECT 1 FROM match_evaluations WHERE query_id=? AND holder=? AND hit=?",
        (qid, holder, True)))
