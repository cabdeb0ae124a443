"""Console actions on one share: its originator recalls it (after a confirmation page
that names who will be told), a reader reports a sighting of one of its indicators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil import params
from vigil.analysis import sightings
from vigil.errors import InputError, NotFound, VigilError
from vigil.node import accountability as acc
from vigil.web.console.deps import CheckedForm, SignedIn
from vigil.web.console.inbox_pages import display_names
from vigil.web.console.pages import HEADERS, error_page, not_found, render, share_error_page
from vigil.web.deps import state_of

router = APIRouter(include_in_schema=False)


@router.get("/shares/{share_id}/recall", response_class=HTMLResponse)
async def recall_confirm(share_id: str, request: Request, who: SignedIn) -> Response:
    """The confirmation: the share and every recipient that will be told of the recall
    (404 for anyone but its originator, as for a missing share)."""
    st = state_of(request)
    try:
        view = await st.read(acc.receipts_view, st.exchange, who.actor.member, share_id)
    except NotFound:
        return not_found(request, who, "share")
    names = display_names(st.exchange)
    told = [{"name": r["name"], "display_name": names.get(r["member"], r["member"])}
            for r in view["recipients"]]
    return render(request, "recall.html", who=who, share_id=share_id, told=told,
                  recalled=view["state"]["recalled"], error=None)


@router.post("/shares/{share_id}/recall", response_class=HTMLResponse)
async def recall(share_id: str, request: Request, who: SignedIn, form: CheckedForm) -> Response:
    st = state_of(request)
    try:
        rec = await st.write(acc.recall, st.exchange, who.actor.member, share_id)
    except NotFound:
        return not_found(request, who, "share")
    except VigilError as exc:
        return error_page(request, who, exc)
    if rec.new:
        await st.bus.ring(rec.recipients)
    return RedirectResponse(f"/shares/{share_id}?recalled=1#receipts-section", status_code=303,
                            headers=HEADERS)


@router.post("/shares/{share_id}/sightings", response_class=HTMLResponse)
async def report_sighting(share_id: str, request: Request,
        who: SignedIn, form: CheckedForm) -> Response:
    """Report a sighting of one of the share's indicators (404 for a share the member
    may not read; the use case asks the access gate)."""
    st = state_of(request)
    raw = form.get("count", "1").strip() or "1"
    try:
        count = params.decimal(raw)
        if count is None:
            raise InputError("count must be a whole number", code="input.sighting_count",
                             pointer="/count")
        await st.write(sightings.report, st.exchange, who.actor.member, share_id,
                       form.get("indicator"), form.get("verdict"), count=count,
                       disclose=form.get("disclose") == "1")
    except VigilError as exc:
        return share_error_page(request, who, exc)
    return RedirectResponse(f"/shares/{share_id}?sighted=1#sightings", status_code=303,
                            headers=HEADERS)
