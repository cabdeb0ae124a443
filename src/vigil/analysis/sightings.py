"""Sightings: members tell an indicator's originator they saw it, found it a false
positive, or found it expired (STIX 2.1 ``sighting`` objects).

A member reports on an indicator of a share it may read (any other share answers 404
exactly like a missing one). The originator sees per-indicator counts by verdict, and
the reporters who allowed it (``disclose``); every reporter sees its own sightings.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from vigil import clock
from vigil.errors import InputError, NotFound
from vigil.model import Envelope, Form, ShareState
from vigil.node.exchange import Exchange
from vigil.policy.access import Access, reporter_shown
from vigil.storage.sightings import insert_sighting, sightings_of

INDICATOR_RE = re.compile(
    r"^indicator--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_COUNT = 999_999_999  # STIX 2.1 sighting count range


class Verdict(enum.StrEnum):
    SIGHTED = "sighted"
    FALSE_POSITIVE = "false-positive"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Sighting:
    id: str  # sighting--<uuid>
    share_id: str
    indicator_id: str
    originator: str  # the share's originator
    reporter: str
    verdict: Verdict
    count: int
    first_seen: str | None
    last_seen: str | None
    disclose: bool
    created: str


def _row(r: Any) -> Sighting:
    return Sighting(r[0], r[1], r[2], r[3], r[4], Verdict(r[5]), int(r[6]), r[7], r[8],
                    bool(r[9]), r[10])


def readable_share(ex: Exchange, member: str, share_id: str) -> tuple[Envelope, ShareState]:
    """A share the member may read now (the node's community rule included), without
    counting as an opening; NotFound otherwise, exactly like a missing share."""
    return ex.share(member, share_id)


def _time(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"{field} {value!r} is not an RFC 3339 time",
                         code="input.sighting_time", pointer=f"/{field}") from exc
    if dt.tzinfo is None:
        raise InputError(f"{field} needs a time zone (use Z for UTC)",
                         code="input.sighting_time", pointer=f"/{field}")
    return clock.fmt(dt.astimezone(UTC))


def _indicator_ids(ex: Exchange, member: str, env: Envelope) -> set[str] | None:
    """The indicator ids of a share the node can read for this member; None when the
    payload is sealed to keys the node does not hold."""
    if env.form is Form.PLAIN:
        payload: bytes | None = env.payload
    else:
        payload = ex.open(member, env)
    if payload is None:
        return None
    objects = orjson.loads(payload).get("objects", [])
    return {o["id"] for o in objects if isinstance(o, dict) and o.get("type") == "indicator"}


def report(
    ex: Exchange,
    member: str,
    share_id: str,
    indicator_id: str,
    verdict: str,
    *,
    count: int = 1,
    first_seen: str | None = None,
    last_seen: str | None = None,
    disclose: bool = False,
) -> Sighting:
    """Record one sighting by ``member`` (from authentication) of an indicator of a share
    it may read. Bad input raises InputError and stores nothing."""
    try:
        v = Verdict(verdict)
    except ValueError:
        raise InputError(f"verdict must be one of {', '.join(Verdict)}",
                         code="input.sighting_verdict", pointer="/verdict") from None
    if not isinstance(indicator_id, str) or not INDICATOR_RE.match(indicator_id):
        raise InputError("indicator must be a STIX indicator id (indicator--<uuid>)",
                         code="input.indicator_id", pointer="/indicator")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
        raise InputError(f"count must be an integer from 0 to {MAX_COUNT}",
                         code="input.sighting_count", pointer="/count")
    first, last = _time(first_seen, "first_seen"), _time(last_seen, "last_seen")
    if first is not None and last is not None and last < first:
        raise InputError("last_seen is before first_seen", code="input.sighting_time",
                         pointer="/last_seen")
    env, _ = readable_share(ex, member, share_id)
    ids = _indicator_ids(ex, member, env)
    if ids is not None and indicator_id not in ids:
        raise NotFound(f"share {share_id} holds no indicator {indicator_id}",
                       code="sighting.indicator_not_found")
    s = Sighting(
        id=f"sighting--{uuid.uuid4()}", share_id=env.id, indicator_id=indicator_id,
        originator=env.originator, reporter=member, verdict=v, count=count,
        first_seen=first, last_seen=last, disclose=bool(disclose), created=clock.now())

    ex.store.write(lambda sql: insert_sighting(sql, (
        s.id, s.share_id, s.indicator_id, s.originator, s.reporter, s.verdict.value, s.count,
        s.first_seen, s.last_seen, s.disclose, s.created)))
    return s


def stix_sighting(s: Sighting, viewer: str) -> dict[str, Any]:
    """The sighting as a STIX 2.1 object, naming the reporter only where the policy lets
    this viewer see it."""
    obj: dict[str, Any] = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": s.id,
        "created": s.created,
        "modified": s.created,
        "sighting_of_ref": s.indicator_id,
        "count": s.count,
        "x_vigil_verdict": s.verdict.value,
        "x_vigil_share": s.share_id,
    }
    if s.first_seen is not None:
        obj["first_seen"] = s.first_seen
    if s.last_seen is not None:
        obj["last_seen"] = s.last_seen
    if reporter_shown(viewer, s.originator, s.reporter, s.disclose):
        obj["created_by_ref"] = s.reporter
        obj["where_sighted_refs"] = [s.reporter]
    return obj


def sightings_of_share(ex: Exchange, member: str, share_id: str) -> dict[str, Any]:
    """What a member may see of a share's sightings: for the originator, counts per
    indicator and verdict plus the sightings whose reporters disclosed themselves; for
    any other reader, its own sightings. NotFound if it may not read the share."""
    gate = Access(ex, member)
    got = gate.fetch(share_id)
    if got is None or not gate.read(got[1]):
        raise NotFound(f"no share {share_id!r}", code="share.not_found")
    env, view = got
    rows: list[Sighting] = ex.store.read(
        lambda sql: [_row(r) for r in sightings_of(sql, env.id)])
    counts: dict[str, dict[str, dict[str, int]]] | None = None
    if gate.sighting_counts(view):
        counts = {}
        for s in rows:
            c = counts.setdefault(s.indicator_id, {}).setdefault(
                s.verdict.value, {"reports": 0, "count": 0})
            c["reports"] += 1
            c["count"] += s.count
    shown = [stix_sighting(s, member) for s in rows
             if gate.reporter_shown(s.originator, s.reporter, s.disclose)]
    return {"share_id": env.id, "counts": counts, "sightings": shown}
