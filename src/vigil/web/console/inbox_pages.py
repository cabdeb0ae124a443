"""The member's lists: the inbox (filtered server-side, paged back), the shares it
sent, and the channels it sees."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vigil import params
from vigil.errors import NotFound, VigilError
from vigil.intel.header import summary
from vigil.intel.themes import vocabulary
from vigil.model import (
    Channel,
    ChannelKind,
    Envelope,
)
from vigil.node.exchange import Exchange
from vigil.stix.tlp import parse_tlp
from vigil.web.console.deps import (
    SignedIn,
)
from vigil.web.console.pages import (
    TLP_LABELS,
    error_page,
    render,
)
from vigil.web.deps import state_of

router = APIRouter(include_in_schema=False)

INBOX_ROWS = 100  # rows per page of the inbox and sent
PAGE = 500


@dataclass(frozen=True, slots=True)
class Filters:
    theme: str = ""
    region: str = ""
    tlp: str = ""
    channel: str = ""  # channel id
    originator: str = ""  # member id

    def active(self) -> bool:
        return any((self.theme, self.region, self.tlp, self.channel, self.originator))

    def match(self, env: Envelope) -> bool:
        h = env.header
        if self.theme and not any(t == self.theme or t.startswith(self.theme + "/")
                                  for t in h.get("themes", [])):
            return False
        if self.region and self.region not in h.get("regions", []):
            return False
        if self.tlp and env.tlp.value != self.tlp:
            return False
        if self.channel and env.channel != self.channel:
            return False
        return not (self.originator and env.originator != self.originator)


def filters_of(request: Request, ex: Exchange, channels: list[Channel]) -> Filters:
    q = request.query_params
    theme = q.get("theme", "").strip().lower()
    region = q.get("region", "").strip()
    if len(region) == 2:
        region = region.upper()
    tlp = q.get("tlp", "").strip()
    if tlp:
        tlp = parse_tlp(tlp).value
    channel = q.get("channel", "").strip()
    if channel:
        # a channel the member cannot see matches nothing, like an unknown one
        found = next((c for c in channels if channel in (c.id, c.name)), None)
        channel = found.id if found else "channel--none"
    originator = q.get("originator", "").strip()
    if originator:
        try:
            originator = ex.member(originator).id
        except NotFound:
            originator = "identity--none"
    return Filters(theme, region, tlp, channel, originator)


def row_of(env: Envelope, names: dict[str, str], channels: dict[str, str], seq: int,
           added: str) -> dict[str, Any]:
    h = env.header
    return {"seq": seq, "id": env.id, "added": added, "created": env.created,
            "tlp": env.tlp.value, "originator": names.get(env.originator, env.originator),
            "channel": channels.get(env.channel or "", "") if env.channel else "",
            "recipients": len(env.recipients), "themes": list(h.get("themes", [])),
            "regions": list(h.get("regions", [])), "form": env.form.value,
            "provenance": h.get("provenance"),
            "evaluation": (summary(h)["evaluation"] or {}).get("code")}


def display_names(ex: Exchange) -> dict[str, str]:
    return {m.id: m.display_name for m in ex.directory().members.values()}


def before_of(request: Request) -> int | None:
    """The page's ``before`` cursor: show the rows older than this seq (None: newest)."""
    raw = request.query_params.get("before", "")
    return params.decimal(raw)


def pager(request: Request, before: int | None, rows: deque[dict[str, Any]], matched: int
          ) -> dict[str, str | None]:
    """Links to the newest page and to the next older one (keeping the filters)."""
    keep = [(k, v) for k, v in request.query_params.multi_items() if k != "before"]
    path = request.url.path
    newest = f"{path}?{urlencode(keep)}" if before is not None else None
    older = f"{path}?{urlencode([*keep, ('before', str(rows[0]['seq']))])}" \
        if matched > len(rows) and rows else None
    return {"newest": newest, "older": older}


@router.get("/", response_class=HTMLResponse)
async def inbox(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    ex = st.exchange
    chans = await st.read(ex.channels, who.actor.member)
    try:
        f = filters_of(request, ex, chans)
    except VigilError as exc:
        return error_page(request, who, exc)
    names = display_names(ex)
    chan_names = {c.id: c.name for c in chans}
    before = before_of(request)
    rows: deque[dict[str, Any]] = deque(maxlen=INBOX_ROWS)
    cursor, total, matched = 0, 0, 0
    while True:
        page, cursor, more = await st.read(ex.inbox_page, who.actor.member, cursor, PAGE)
        for entry, env, _state in page:
            total += 1
            if f.match(env) and (before is None or entry.seq < before):
                matched += 1
                rows.append(row_of(env, names, chan_names, entry.seq, entry.added))
        if not more:
            break
    members = sorted(ex.directory().members.values(), key=lambda m: m.display_name)
    live = {"cursor": cursor, "names": names, "channels": chan_names,
            "filters": {"theme": f.theme, "region": f.region, "tlp": f.tlp,
                        "channel": f.channel, "originator": f.originator}}
    return render(request, "inbox.html", who=who, rows=list(reversed(rows)), total=total,
                  f=f, q=request.query_params, themes=vocabulary(), tlps=TLP_LABELS,
                  channels=chans, members=members, live=live if before is None else None,
                  pager=pager(request, before, rows, matched))


# -- channels and sent ------------------------------------------------------------------

@router.get("/channels", response_class=HTMLResponse)
async def channels(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    ex = st.exchange
    d = ex.directory()
    out = []
    for c in await st.read(ex.channels, who.actor.member):
        events = await st.read(ex.channel_events, who.actor.member, c.id)
        members = None if c.kind is ChannelKind.COMMUNITY else \
            sorted((d.members[m] for m in c.members if m in d.members),
                   key=lambda m: m.display_name)
        out.append({"c": c, "owner": d.members.get(c.owner), "members": members,
                    "events": [{**e, "member_name": _dn(d.members, e["member"]),
                                "actor_name": _dn(d.members, e["actor"])} for e in events]})
    return render(request, "channels.html", who=who, channels=out)


def _dn(members: Any, ref: str) -> str:
    m = members.get(ref)
    return str(m.display_name) if m is not None else ref


@router.get("/sent", response_class=HTMLResponse)
async def sent(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    ex = st.exchange
    names = display_names(ex)
    chans = {c.id: c.name for c in await st.read(ex.channels, who.actor.member)}
    before = before_of(request)
    rows: deque[dict[str, Any]] = deque(maxlen=INBOX_ROWS)
    after, matched = 0, 0
    while True:
        page, cursor = await st.read(ex.sent_page, who.actor.member, after, PAGE)
        for seq, env, state in page:
            if before is not None and seq >= before:
                continue
            matched += 1
            r = row_of(env, names, chans, seq, env.created)
            r["recipient_names"] = [names.get(m, m) for m in env.recipients]
            r["recalled"] = state.recalled
            rows.append(r)
        if cursor == after:
            break
        after = cursor
    return render(request, "sent.html", who=who, rows=list(reversed(rows)),
                  pager=pager(request, before, rows, matched))


