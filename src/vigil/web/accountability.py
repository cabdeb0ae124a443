"""REST API of receipts and recall: members post signed receipts, originators recall
their shares and see who received, opened and acknowledged."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from vigil.consent import service as consent
from vigil.crypto.encoding import b64u_decode
from vigil.crypto.keys import SIGNATURE_LENS
from vigil.errors import InputError
from vigil.node import accountability as acc
from vigil.stix import strictjson
from vigil.web.deps import ActorDep, StateDep, read_body

router = APIRouter()
MAX_BODY = 64 * 1024


def _signed(doc: Any, kind: str) -> tuple[Any, bytes]:
    """``{"<kind>": {...}, "signature": b64u}`` -> (object, signature bytes)."""
    if not isinstance(doc, dict) or set(doc) != {kind, "signature"}:
        raise InputError(f'the body must be {{"{kind}": {{...}}, "signature": "…"}}',
                         code=f"{kind}.malformed", pointer="")
    sig = doc["signature"]
    try:
        raw = b64u_decode(sig)
    except ValueError:
        raw = b""
    if len(raw) not in SIGNATURE_LENS.values():
        raise InputError("the signature must be 64 bytes (ed25519) or 3373 "
                         "(ed25519+mldsa65), base64url without padding",
                         code=f"{kind}.malformed", pointer="/signature")
    return doc[kind], raw


def _body(kind: str) -> dict[str, Any]:
    return {"requestBody": {"required": kind == "receipt", "content": {"application/json": {
        "schema": {"type": "object", "required": [kind, "signature"], "properties": {
            kind: {"type": "object", "description": f"the {kind} object (docs/protocol.md)"},
            "signature": {"type": "string", "description": "Ed25519, base64url"}}}}}}}


_AGAIN: dict[int | str, dict[str, Any]] = {
    200: {"description": "already recorded: the one recorded before, unchanged"}}


@router.post("/shares/{share_id}/receipts", tags=["accountability"], status_code=201,
             openapi_extra=_body("receipt"), responses=_AGAIN)
async def post_receipt(share_id: str, request: Request, st: StateDep, actor: ActorDep
                       ) -> Response:
    """Record the caller's signed receipt (received, opened or recall-ack) of a share it
    may read (or, for recall-ack, whose recall it was told of). Logged; idempotent per
    (share, member, what): a repeat answers 200 with the first receipt."""
    doc = strictjson.loads(await read_body(request, MAX_BODY), max_bytes=MAX_BODY)
    obj, sig = _signed(doc, "receipt")
    if isinstance(obj, dict) and obj.get("share") != share_id:
        raise InputError("the receipt names another share", code="receipt.share_mismatch",
                         pointer="/receipt/share")
    rec = await st.write(acc.record_receipt, st.exchange, actor.member, obj, sig)
    return JSONResponse(rec.to_json(), status_code=201 if rec.new else 200)


@router.get("/shares/{share_id}/receipts", tags=["accountability"])
async def get_receipts(share_id: str, st: StateDep, actor: ActorDep) -> dict[str, Any]:
    """For the share's originator only: every recipient, when it received, opened and
    (after a recall) acknowledged, and who has not; and every declared use of the share
    (``uses``: court, forward, retain, and openings of personal data with their purpose).
    404 for anyone else."""
    view = await st.read(acc.receipts_view, st.exchange, actor.member, share_id)
    return {**view, "uses": await st.read(consent.uses_of, st.exchange, actor.member,
                                          share_id)}


@router.post("/shares/{share_id}/recall", tags=["accountability"], status_code=201,
             openapi_extra=_body("recall"), responses=_AGAIN)
async def post_recall(share_id: str, request: Request, st: StateDep, actor: ActorDep
                      ) -> Response:
    """Recall the caller's share: its payload and wraps are removed from the node, and
    every recipient is sent the recall (inbox and stream, state recalled). The body is
    the recall signed by the originator's client; an empty body asks the node to sign
    with the keyring it holds for the member or, for a share it attested, its own key.
    404 for anyone but the originator."""
    raw = await read_body(request, MAX_BODY)
    obj: Any = None
    sig: bytes | None = None
    if raw.strip():
        obj, sig = _signed(strictjson.loads(raw, max_bytes=MAX_BODY), "recall")
    rec = await st.write(acc.recall, st.exchange, actor.member, share_id, obj, sig)
    if rec.new:
        await st.bus.ring(rec.recipients)
    return JSONResponse(rec.to_json(), status_code=201 if rec.new else 200)
