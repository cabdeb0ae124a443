"""The node's transparency log as a member may see it: the signed checkpoint, the
entries it may see in full, and reported forks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vigil.log.gossip import Gossip
from vigil.log.note import vkey
from vigil.policy.access import Access
from vigil.web.console.deps import (
    SignedIn,
)
from vigil.web.console.inbox_pages import before_of, display_names
from vigil.web.console.pages import (
    render,
)
from vigil.web.deps import state_of

router = APIRouter(include_in_schema=False)

LOG_ROWS = 100


@router.get("/log", response_class=HTMLResponse)
async def log_page(request: Request, who: SignedIn) -> Response:
    """The node's log as this member may see it: the signed checkpoint, the newest
    entries it may see in full, and forks members have reported."""
    st = state_of(request)
    ex = st.exchange
    cp, note = await st.read(ex.log.checkpoint)
    names = display_names(ex)
    rows: list[dict[str, Any]] = []
    hidden = 0
    before = before_of(request)
    end = cp.size if before is None else min(before, cp.size)
    gate = Access(ex, who.actor.member)
    while end > 0 and len(rows) < LOG_ROWS:
        start = max(0, end - 1000)
        seen = await st.read(gate.log_entries, await st.read(ex.log.entries, start, end))
        for index, _, entry in reversed(seen):
            if entry is None:
                hidden += 1
                continue
            if len(rows) < LOG_ROWS:
                rows.append({"index": index, "kind": entry.get("kind"),
                             "what": describe_entry(entry, names), "share": entry.get("share"),
                             "at": entry.get("at", "")})
        end = start
    forks = (await st.read(Gossip(ex.log).report))["forks"]
    older = f"/log?before={rows[-1]['index']}" \
        if len(rows) == LOG_ROWS and rows[-1]["index"] > 0 else None
    return render(request, "log.html", who=who, cp=cp, note=note, rows=rows,
                  hidden=hidden, forks=forks, vkey=vkey(ex.log.key_name, ex.log.public_raw),
                  pager={"newest": "/log" if before is not None else None, "older": older})


def describe_entry(entry: dict[str, Any], names: dict[str, str]) -> str:
    """One log entry in words."""
    def n(ref: Any) -> str:
        return names.get(str(ref), str(ref))

    kind = entry.get("kind")
    if kind == "share":
        return (f"{n(entry.get('originator'))} shared with "
                f"{', '.join(n(m) for m in entry.get('to', []))}")
    if kind == "channel":
        return f"{n(entry.get('actor'))}: {n(entry.get('member'))} {entry.get('event')}"
    if kind == "member":
        return f"member {n(entry.get('member'))} {entry.get('event')} (keys " \
               f"{entry.get('sign_key')}, {entry.get('enc_key')})"
    if kind == "receipt":
        receipt = entry.get("receipt") or {}
        return f"{n(entry.get('member'))} signed a receipt: {receipt.get('what')}"
    if kind == "recall":
        return f"{n(entry.get('originator'))} recalled a share"
    if kind == "purge":
        return "retention removed an expired share's payload"
    return str(kind)
