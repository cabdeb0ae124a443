"""Sightings, the reciprocity ledger, channel keys and blind tokens over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from vigil.analysis import blind, ledger, sightings
from vigil.errors import InputError
from vigil.model import Actor
from vigil.node.hooks import Published
from vigil.protocol.envelope import envelope_from_json
from vigil.stix import strictjson
from vigil.web.deps import ActorDep, State, StateDep, number, read_body
from vigil.web.rest import published_json

router = APIRouter()
SMALL_BODY = 64 * 1024


async def _json_object(request: Request, st: State, limit: int, allowed: set[str],
                       required: set[str]) -> Mapping[str, Any]:
    raw = await read_body(request, limit)
    doc = strictjson.loads(raw, max_bytes=limit)
    if not isinstance(doc, dict):
        raise InputError("the body must be a JSON object", code="input.body", pointer="")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}", code="input.unknown_field",
                         pointer=f"/{unknown[0]}")
    missing = sorted(required - set(doc))
    if missing:
        raise InputError(f"missing field {missing[0]!r}", code="input.missing_field",
                         pointer=f"/{missing[0]}")
    return doc


# -- sightings ------------------------------------------------------------------------------

SIGHTING_FIELDS = {"indicator", "verdict", "count", "first_seen", "last_seen", "disclose"}


@router.post("/shares/{share_id}/sightings", tags=["sightings"], status_code=201)
async def add_sighting(share_id: str, request: Request, st: StateDep, actor: ActorDep
                       ) -> dict[str, Any]:
    """Report that the caller saw an indicator of a share it may read (`sighted`), found
    it a `false-positive`, or found it `expired`. Body: `{indicator, verdict, count?,
    first_seen?, last_seen?, disclose?}`; `disclose: true` lets the originator see who
    reported it (default anonymous). Answers the STIX 2.1 sighting. 404 for a share the
    caller may not read, exactly as for a missing one."""
    doc = await _json_object(request, st, SMALL_BODY, SIGHTING_FIELDS, {"indicator", "verdict"})
    disclose = doc.get("disclose", False)
    if not isinstance(disclose, bool):
        raise InputError("disclose must be true or false", code="input.sighting_disclose",
                         pointer="/disclose")
    for f in ("first_seen", "last_seen"):
        if doc.get(f) is not None and not isinstance(doc[f], str):
            raise InputError(f"{f} must be an RFC 3339 string", code="input.sighting_time",
                             pointer=f"/{f}")
    s = await st.write(sightings.report, st.exchange, actor.member, share_id,
                       doc["indicator"], doc["verdict"], count=doc.get("count", 1),
                       first_seen=doc.get("first_seen"), last_seen=doc.get("last_seen"),
                       disclose=disclose)
    return sightings.stix_sighting(s, actor.member)


@router.get("/shares/{share_id}/sightings", tags=["sightings"])
async def list_sightings(share_id: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """A share's sightings as the caller may see them: its originator gets counts per
    indicator and verdict (`counts`) and the sightings whose reporters disclosed
    themselves; any other reader gets only its own sightings (`counts` is null)."""
    return await st.read(sightings.sightings_of_share, st.exchange, actor.member, share_id)


# -- the ledger -------------------------------------------------------------------------------

@router.get("/ledger", tags=["ledger"])
async def get_ledger(st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """The reciprocity ledger over the shares the caller may read: per member, and per
    channel the caller is in. Counts only; never a share id."""
    return await st.analysis_read(ledger.report, st.exchange, actor.member)


# -- channel keys and blind tokens ---------------------------------------------------------------

@router.get("/channels/{ref}/key", tags=["blind"])
async def channel_key(ref: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """The channel key as this node keeps it: the current epoch, the caller's sealed
    copy (the node cannot open it), the channel members lacking a copy, whether a new
    epoch is due (`rotate`: a holder of the current key has left), and the members'
    encryption keys to seal a new epoch to."""
    return await st.read(blind.key_status, st.exchange, actor.member, ref)


@router.post("/channels/{ref}/keys", tags=["blind"], status_code=201)
async def put_channel_keys(ref: str, request: Request, st: StateDep, actor: ActorDep
                           ) -> dict[str, Any]:
    """Store sealed copies of a channel key made by the caller's client: `{epoch, sealed:
    [{member, key, blob}]}`, either a new epoch (current + 1) sealed to every channel
    member, or copies of the current epoch for members lacking one. 409
    `blind.epoch_exists` when another member made that epoch first."""
    doc = await _json_object(request, st, 4 * 1024 * 1024, {"epoch", "sealed"},
                             {"epoch", "sealed"})
    return await st.write(blind.put_keys, st.exchange, actor.member, ref, doc["epoch"],
                          doc["sealed"])


def _publish_with_tokens(st: State, actor: Actor, env: Any, att: blind.Attachment | None
                         ) -> Published:
    # the tokens are stored in the share's own transaction, only with a new share
    claim = None if att is None else partial(blind.store_tokens, att)
    return st.exchange.accept_envelope(actor, env, claim)


@router.post("/blind/envelopes", tags=["blind"], status_code=201)
async def publish_blind(request: Request, st: StateDep, actor: ActorDep) -> JSONResponse:
    """Publish a client-signed share with blind tokens beside it: `{envelope, blind:
    {channel, epoch, tokens}}`. The tokens are stored and matched in the share's own
    transaction; the answer lists the shares the caller may read that match
    (`blind_matches`)."""
    limit = int(st.settings.max_body) * 2 + blind.MAX_TOKENS * 48
    doc = await _json_object(request, st, limit, {"envelope", "blind"}, {"envelope"})
    env = envelope_from_json(doc["envelope"])
    att = None
    if doc.get("blind") is not None:
        att = await st.read(blind.parse_attachment, st.exchange, actor.member, env,
                            doc["blind"])
    pub = await st.write(_publish_with_tokens, st, actor, env, att)
    await st.bus.ring((*pub.recipients, actor.member))
    out = published_json(pub)
    out["blind_matches"] = await st.read(blind.matches_of, st.exchange, actor.member, env.id)
    return JSONResponse(out, status_code=201 if pub.new else 200)


@router.get("/blind/matches", tags=["blind"])
async def blind_matches(
    st: StateDep,
    actor: ActorDep,
    after: Annotated[int, Query(ge=0), number("after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000), number("limit", 1, 1000)] = 100,
) -> dict[str, Any]:
    """Blind-match notices after a cursor: pairs of shares of one channel whose tokens
    matched, shown only when the caller may read both."""
    rows, cursor = await st.read(blind.matches, st.exchange, actor.member, after, limit)
    return {"matches": rows, "next": cursor}
