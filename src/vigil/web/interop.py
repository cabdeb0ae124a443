"""MISP in and out over the REST API.

* ``POST /api/v1/import/misp`` — a MISP JSON document (one event, a list, or a REST
  answer) as the body. Without ``to`` nothing is published: the answer is each event's
  report (objects, losses one by one, TLP, handling codes, proposed audience). With
  ``to`` (a channel, ``member:NAME``, or ``community``; repeat) each event is published
  as one share to that audience, refused per event when wider than its distribution.
* ``POST /api/v1/import/text`` — free text: per line what was found and what was
  skipped; with ``to`` and ``tlp`` what was found is published as one share.
* ``GET /api/v1/export/misp`` — the shares of the member's inbox after ``after`` as
  MISP events, with the cursor to resume from.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from vigil.errors import InputError, NotFound
from vigil.node.hooks import Published
from vigil.stix import strictjson
from vigil.web.deps import ActorDep, StateDep, number, read_body

router = APIRouter(tags=["interop"])


@router.post("/import/misp")
async def import_misp(
    request: Request,
    st: StateDep,
    actor: ActorDep,
    to: Annotated[list[str] | None, Query(description="channel, member:NAME or community; "
                                                      "none: only report")] = None,
    tlp: Annotated[str | None, Query(description="TLP (default: the event's tlp: tag)")]
    = None,
) -> dict[str, Any]:
    """Import MISP JSON events (see the module's documentation)."""
    from vigil.interop.misp import events_of
    from vigil.interop.misp_exchange import import_events

    raw = await read_body(request, int(st.settings.max_body))

    def run() -> list[dict[str, Any]]:  # parsing too: seconds of CPU for a large body
        events = events_of(strictjson.loads(raw, max_bytes=int(st.settings.max_body)))
        if to is not None and not to:
            raise InputError("to needs a value", code="misp.audience", pointer="to")
        return import_events(st.exchange, actor, events, to=to, tlp=tlp)

    reports = await st.heavy(actor.member, run)
    recipients = {r for rep in reports for r in rep.get("share", {}).get("recipients", ())}
    if recipients:
        await st.bus.ring((*recipients, actor.member))
    return {"events": reports}


@router.get("/export/misp")
async def export_misp(
    st: StateDep,
    actor: ActorDep,
    after: Annotated[int, Query(ge=0), number("after")] = 0,
    limit: Annotated[int, Query(ge=1, le=500), number("limit", 1, 500)] = 50,
) -> dict[str, Any]:
    """The member's readable shares as MISP events (see the module's documentation)."""
    from vigil.interop.misp_exchange import export_events

    events, skipped, cursor = await st.heavy(actor.member, export_events, st.exchange,
                                             actor.member, after, limit)
    return {"events": events, "skipped": skipped, "next": cursor}


@router.post("/import/text")
async def import_text(
    request: Request,
    st: StateDep,
    actor: ActorDep,
    to: Annotated[list[str] | None, Query(description="channel, member:NAME or community; "
                                                      "none: only report")] = None,
    tlp: Annotated[str | None, Query(description="TLP of the share (needed with to)")]
    = None,
) -> dict[str, Any]:
    """Free text (UTF-8) as the body: per line, the IOCs found and the lines skipped.
    With ``to`` and ``tlp``, what was found is published as one share of indicators."""
    from vigil.interop.iocs import extract, found_iocs, indicators_bundle
    from vigil.interop.misp_exchange import audience_words
    from vigil.stix.tlp import parse_tlp

    raw = await read_body(request, int(st.settings.max_body))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the body is not UTF-8 text", code="input.encoding") from None

    def run() -> tuple[dict[str, Any], Published | None]:  # the scan is CPU: a thread
        lines = extract(text)
        iocs = found_iocs(lines)
        out: dict[str, Any] = {"lines": [x.to_dict() for x in lines
                                         if x.found or x.skipped],
                               "found": len(iocs),
                               "skipped": sum(1 for x in lines if x.skipped)}
        if not to:
            return out, None
        if not tlp:
            raise InputError("give tlp with to", code="input.tlp", pointer="tlp")
        if not iocs:
            raise InputError("nothing found to publish", code="input.ioc", pointer="/")
        req = st.exchange.make_request(actor.member, tlp=parse_tlp(tlp),
                                       to=audience_words(to))
        raw_bundle = orjson.dumps(indicators_bundle(iocs))
        return out, st.exchange.publish_bundle(actor, raw_bundle, req)

    out, pub = await st.heavy(actor.member, run)
    if pub is not None:
        await st.bus.ring((*pub.recipients, actor.member))
        out["share"] = {"id": pub.envelope.id, "recipients": list(pub.recipients)}
    return out


# -- the member's inbox as a MISP feed (add it in MISP with the header
#    "Authorization: Bearer <token>") ---------------------------------------------------

async def _feed(st: Any, actor: Any) -> Any:
    from vigil.interop.misp_feed import member_feed

    return await st.heavy(actor.member, member_feed, st.exchange, actor.member)


@router.get("/misp-feed/manifest.json")
async def misp_feed_manifest(st: StateDep, actor: ActorDep) -> Response:
    """The feed's manifest: event uuid -> Orgc, Tag, info, date, analysis, threat level,
    timestamp."""
    return JSONResponse((await _feed(st, actor)).manifest)


@router.get("/misp-feed/hashes.csv")
async def misp_feed_hashes(st: StateDep, actor: ActorDep) -> Response:
    """md5 of every attribute value, with its event's uuid, one per line."""
    return Response((await _feed(st, actor)).hashes_csv(), media_type="text/csv")


@router.get("/misp-feed/{name}")
async def misp_feed_event(name: str, st: StateDep, actor: ActorDep) -> Response:
    """One event of the feed, ``<uuid>.json``."""
    feed = await _feed(st, actor)
    ev = feed.events.get(name.removesuffix(".json")) if name.endswith(".json") else None
    if ev is None:
        raise NotFound(f"no event {name!r} in this feed", code="misp.event_not_found")
    return JSONResponse(ev)
