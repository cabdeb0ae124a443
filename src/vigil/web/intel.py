"""REST API of intelligence beyond cyber: consent grants, declared uses and private
selector matching (docs/policy.md, "Consent grants"; docs/analysis.md, "Private selector
matching")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from vigil.consent import service as consent
from vigil.errors import InputError
from vigil.intel import evaluation, legal
from vigil.intel.handling import CODES as HANDLING_CODES
from vigil.intel.handling import USES
from vigil.intel.themes import vocabulary
from vigil.match import node as match
from vigil.stix import strictjson
from vigil.web.deps import ActorDep, StateDep, number, read_body

router = APIRouter()
MAX_BODY = 64 * 1024
MAX_INDEX_BODY = 16 * 1024 * 1024


async def _json(request: Request, limit: int = MAX_BODY) -> dict[str, Any]:
    doc = strictjson.loads(await read_body(request, limit), max_bytes=limit)
    if not isinstance(doc, dict):
        raise InputError("the body must be a JSON object", code="input.invalid", pointer="")
    return doc


@router.get("/vocabulary", tags=["intel"])
async def get_vocabulary(actor: ActorDep) -> dict[str, Any]:
    """Themes, evaluation codes (both schemes), legal instruments, purposes, handling
    codes and the uses that may need consent."""
    return {"themes": vocabulary(), "evaluation": {
                "source": evaluation.SOURCE, "information": evaluation.INFORMATION},
            "instruments": legal.INSTRUMENTS, "purposes": legal.PURPOSES,
            "handling_codes": HANDLING_CODES, "uses": list(USES)}


# -- consent ------------------------------------------------------------------------------
@router.post("/shares/{share_id}/consent", tags=["consent"], status_code=201)
async def post_consent(share_id: str, request: Request, st: StateDep, actor: ActorDep
                       ) -> dict[str, Any]:
    """Ask the share's originator for a use its handling forbids: ``{"use": "forward" |
    "court" | "retain", "reason": "…"}``. 404 for a share the caller may not read;
    409 ``consent.not_needed`` when the use is already allowed."""
    doc = await _json(request)
    req = await st.write(consent.ask, st.exchange, actor.member, share_id, doc.get("use"),
                         str(doc.get("reason") or ""))
    return req.to_json()


@router.get("/consent", tags=["consent"])
async def get_consents(
    st: StateDep, actor: ActorDep, role: str = "any", state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000), number("limit", 1, 1000)] = 100,
) -> dict[str, Any]:
    """The consent requests the caller made (``role=asker``), received
    (``role=originator``) or both."""
    got = await st.read(consent.listing, st.exchange, actor.member, role=role, state=state,
                        limit=limit)
    return {"requests": [r.to_json() for r in got]}


@router.get("/consent/{request_id}", tags=["consent"])
async def get_consent(request_id: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    return (await st.read(consent.get, st.exchange, actor.member, request_id)).to_json()


@router.post("/consent/{request_id}/answer", tags=["consent"])
async def post_answer(request_id: str, request: Request, st: StateDep, actor: ActorDep
                      ) -> dict[str, Any]:
    """The originator's answer: ``{"answer": {…signed object…}, "signature": b64u}``
    from its client, or ``{"grant": true|false, "until": time|null}`` for the node to
    sign with the member's keyring it holds."""
    doc = await _json(request)
    if "answer" in doc:
        obj, sig = doc.get("answer"), consent.decode_signature(doc.get("signature"))
        req = await st.write(consent.answer, st.exchange, actor.member, request_id, obj, sig)
    else:
        grant = doc.get("grant")
        if not isinstance(grant, bool):
            raise InputError('"grant" must be true or false', code="consent.malformed",
                             pointer="/grant")
        until = doc.get("until")
        req = await st.write(consent.answer, st.exchange, actor.member, request_id, None, None,
                             grant=grant, until=None if until is None else str(until))
    return req.to_json()


@router.post("/shares/{share_id}/uses", tags=["consent"])
async def post_use(share_id: str, request: Request, st: StateDep, actor: ActorDep
                   ) -> dict[str, Any]:
    """Declare a use of a share (``{"use": …, "purpose": …}``): 403
    ``policy.grant_required`` for a use its handling forbids without the originator's
    grant; logged for the originator when allowed."""
    doc = await _json(request)
    return await st.write(consent.use, st.exchange, actor.member, share_id, doc.get("use"),
                          str(doc.get("purpose") or ""))


@router.get("/shares/{share_id}/uses", tags=["consent"])
async def get_uses(share_id: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """For the share's originator only: every declared use of it and every opening of a
    share holding personal data, with its purpose. 404 for anyone else."""
    return {"uses": await st.read(consent.uses_of, st.exchange, actor.member, share_id)}


# -- private selector matching ----------------------------------------------------------
@router.put("/match/index", tags=["match"])
async def put_index(request: Request, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """Replace the caller's index: ``{"outputs": [b64u OPRF outputs]}``."""
    doc = await _json(request, MAX_INDEX_BODY)
    outs = doc.get("outputs")
    if not isinstance(outs, list):
        raise InputError('"outputs" must be an array', code="match.malformed",
                         pointer="/outputs")
    n = await st.write(match.put_index, st.exchange, actor.member, outs)
    return {"outputs": n}


@router.post("/match/queries", tags=["match"], status_code=201)
async def post_query(request: Request, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """Ask every member with an index about one blinded selector: ``{"blinded": b64u}``.
    429 ``match.rate_limited`` past the caller's rate."""
    doc = await _json(request)
    return await st.write(match.ask, st.exchange, actor.member, doc.get("blinded"))


@router.get("/match/pending", tags=["match"])
async def get_pending(
    st: StateDep, actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000), number("limit", 1, 1000)] = 100,
) -> dict[str, Any]:
    """The blinded selectors awaiting the caller's evaluation."""
    return {"queries": await st.read(match.pending, st.exchange, actor.member, limit)}


@router.post("/match/queries/{query_id}/evaluations", tags=["match"], status_code=201)
async def post_evaluation(query_id: str, request: Request, st: StateDep, actor: ActorDep
                          ) -> dict[str, Any]:
    """The caller's evaluation of a blinded selector sent to it: ``{"evaluated": b64u}``."""
    doc = await _json(request)
    await st.write(match.evaluate, st.exchange, actor.member, query_id, doc.get("evaluated"))
    return {"id": query_id}


@router.get("/match/queries/{query_id}", tags=["match"])
async def get_query(query_id: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    return await st.read(match.result, st.exchange, actor.member, query_id)


@router.post("/match/queries/{query_id}/lookup", tags=["match"])
async def post_lookup(query_id: str, request: Request, st: StateDep, actor: ActorDep
                      ) -> dict[str, Any]:
    """``{"outputs": {member id: b64u output}}`` -> ``{"hits": [member ids]}``."""
    doc = await _json(request)
    outs = doc.get("outputs")
    if not isinstance(outs, dict):
        raise InputError('"outputs" must be an object', code="match.malformed",
                         pointer="/outputs")
    return await st.write(match.lookup, st.exchange, actor.member, query_id, outs)


@router.post("/match/queries/{query_id}/consent", tags=["match"], status_code=201)
async def post_disclosure(query_id: str, request: Request, st: StateDep, actor: ActorDep
                          ) -> dict[str, Any]:
    """Ask a holder that the query found to disclose what it holds of the selector:
    ``{"holder": member id, "reason": "…"}``. The holder answers like any consent
    request (a signed grant or refusal) and, if it grants, sends a share of its own;
    the node never holds the selector. 404 unless the query found it at that holder."""
    doc = await _json(request)
    req = await st.write(match.ask_disclosure, st.exchange, actor.member, query_id,
                         str(doc.get("holder") or ""), str(doc.get("reason") or ""))
    return req.to_json()
