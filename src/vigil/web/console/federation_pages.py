"""The console's federation page: this node's peer links as `vigil peer status` shows
them (link state, cursors, backlog, lag, last heartbeat, withheld items, quarantine).
Operators' information: a session of admin scope (vigil.web.scopes)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vigil.federation.status import status
from vigil.web.console.deps import SignedIn
from vigil.web.console.pages import render
from vigil.web.deps import state_of

router = APIRouter(include_in_schema=False)


@router.get("/federation", response_class=HTMLResponse)
async def federation(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    svc = getattr(request.app.state, "federation", None)
    view = await asyncio.to_thread(status, st.exchange, svc) if svc is not None else None
    return render(request, "federation.html", who=who, view=view)
