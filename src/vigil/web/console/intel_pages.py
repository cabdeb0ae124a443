"""Console actions on a share beyond cyber: declare a use (court, forward, retain),
ask its originator for consent, and (the originator) grant or refuse. Every answer comes
from the same use cases as the REST API (``vigil.consent.service``), so a use the
handling forbids is refused here with ``policy.grant_required`` too."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.consent import service as consent
from vigil.errors import VigilError
from vigil.intel.handling import CODES as HANDLING_CODES
from vigil.intel.handling import USES
from vigil.intel.header import summary
from vigil.model import Envelope
from vigil.node.exchange import Exchange
from vigil.web.console.deps import (
    CheckedForm,
    SignedIn,
    Who,
)
from vigil.web.console.forms import Form
from vigil.web.console.pages import HEADERS, share_error_page
from vigil.web.deps import state_of

router = APIRouter(include_in_schema=False)


def share_ctx(ex: Exchange, member: str, env: Envelope) -> dict[str, Any]:
    """What the share page shows of evaluation, legal basis, uses and consent."""
    own = env.originator == member
    requests = [r.to_json() for r in consent.listing(ex, member)
                if r.share == env.id]
    return {"intel": summary(env.header), "uses": USES, "handling_codes": HANDLING_CODES,
            "consent_requests": requests,
            "share_uses": consent.uses_of(ex, member, env.id) if own else None}


async def _post(request: Request, who: Who, form: Form, share_id: str, action: str
                ) -> Response:
    st = state_of(request)
    ex, member = st.exchange, who.actor.member
    try:
        if action == "use":
            await st.write(consent.use, ex, member, share_id, form.get("use"),
                           form.get("purpose"))
            done = "used"
        elif action == "consent":
            await st.write(consent.ask, ex, member, share_id, form.get("use"),
                           form.get("reason"))
            done = "asked"
        else:
            req = await st.write(consent.answer, ex, member, form.get("request"), None, None,
                                 grant=form.get("answer") == "grant",
                                 until=form.get("until").strip() or None)
            share_id, done = req.share, req.state
    except VigilError as exc:
        return share_error_page(request, who, exc)
    return RedirectResponse(f"/shares/{share_id}?{done}=1#consent", status_code=303,
                            headers=HEADERS)


@router.post("/shares/{share_id}/uses", response_class=HTMLResponse)
async def declare_use(share_id: str, request: Request, who: SignedIn, form: CheckedForm
                      ) -> Response:
    """Declare a use of the share (403 ``policy.grant_required`` without a needed grant)."""
    return await _post(request, who, form, share_id, "use")


@router.post("/shares/{share_id}/consent", response_class=HTMLResponse)
async def ask_consent(share_id: str, request: Request, who: SignedIn, form: CheckedForm
                      ) -> Response:
    return await _post(request, who, form, share_id, "consent")


@router.post("/consent/answer", response_class=HTMLResponse)
async def answer(request: Request, who: SignedIn, form: CheckedForm) -> Response:
    """The originator's grant or refusal, signed by the node with the member's keyring
    (a member whose keys live in its client answers with the SDK or the CLI)."""
    return await _post(request, who, form, "", "answer")
