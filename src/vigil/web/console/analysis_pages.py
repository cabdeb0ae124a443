"""Console pages of collective analysis: search, correlation notices, the ledger (a
table and charts over time) and warninglists. Each asks the same use cases as the API
(and so the access gate); nothing here reads the store for what a member may see."""

from __future__ import annotations

from collections import Counter, deque
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from vigil import clock, params
from vigil.analysis import ledger
from vigil.analysis.correlate import correlator
from vigil.analysis.observables import KINDS
from vigil.analysis.warninglists import MAX_LIST_BYTES, add_member_list, remove_member_list
from vigil.errors import InputError, VigilError
from vigil.intel.themes import vocabulary
from vigil.model import Envelope
from vigil.web.console.charts import weekly_chart
from vigil.web.console.deps import CheckedForm, SignedIn
from vigil.web.console.inbox_pages import Filters, display_names, filters_of, row_of
from vigil.web.console.pages import HEADERS, TLP_LABELS, render
from vigil.web.console.readable import readable_by_id, readable_shares
from vigil.web.deps import state_of

router = APIRouter(include_in_schema=False)

RESULTS = 50  # search results per page
NOTICES = 100  # correlation notices per page
WEEKS = 12  # the ledger's charts: this many weeks back from now


# -- search ------------------------------------------------------------------------------

def _time(text: str, pointer: str) -> str:
    text = text.strip()
    return clock.fmt(params.day_or_time(text, pointer.lstrip("/"))) if text else ""


def search_rows(ex: Any, member: str, q: str, kind: str, f: Filters, since: str, until: str
                ) -> tuple[list[tuple[Envelope, list[dict[str, str]]]], dict[str, Any] | None]:
    """The readable shares that hold the observable ``q`` (the correlation index's
    search, as ``GET /api/v1/search``) or, without ``q``, every readable share; both
    narrowed by the header filters and the time range. Newest first."""
    found: dict[str, Any] | None = None
    rows: list[tuple[Envelope, list[dict[str, str]]]] = []
    if q:
        found = correlator(ex).search(member, f"{kind}:{q}" if kind else q, 1000)
        shares = readable_by_id(ex, member, [r["share"] for r in found["results"]])
        for r in found["results"]:
            got = shares.get(r["share"])
            if got is not None:
                rows.append((got[0], r["observables"]))
    else:
        rows = [(env, []) for env, _ in readable_shares(ex, member)]
    out = [(env, obs) for env, obs in rows if f.match(env)
           and (not since or env.created >= since) and (not until or env.created < until)]
    out.sort(key=lambda r: (r[0].created, r[0].id), reverse=True)
    return out, found


@router.get("/search", response_class=HTMLResponse)
async def search(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    ex = st.exchange
    qp = request.query_params
    q, kind = qp.get("q", "").strip(), qp.get("kind", "").strip()
    chans = await st.read(ex.channels, who.actor.member)
    ctx: dict[str, Any] = {"q": qp, "kinds": KINDS, "themes": vocabulary(), "tlps": TLP_LABELS,
                           "channels": chans, "members": sorted(
                               ex.directory().members.values(), key=lambda m: m.display_name)}
    try:
        if kind and kind not in KINDS:
            raise InputError(f"kind must be one of {', '.join(KINDS)}", code="input.kind",
                             pointer="/kind")
        if len(q) > 4096:
            raise InputError("q must be at most 4096 characters", code="input.query",
                             pointer="/q")
        f = filters_of(request, ex, chans)
        since = _time(qp.get("since", ""), "/since")
        until = _time(qp.get("until", ""), "/until")
        if until and len(qp.get("until", "").strip()) == 10:  # a date: through its end
            until = clock.fmt(datetime.fromisoformat(until.replace("Z", "+00:00"))
                              + timedelta(days=1))
        page = params.decimal(qp.get("page", "1")) or 1
    except VigilError as exc:
        return render(request, "search.html", status=exc.status, who=who, error=exc,
                      asked=False, rows=[], found=None, f=Filters(), page=1, pages=1,
                      total=0, **ctx)
    asked = bool(q) or f.active() or bool(since or until)
    rows: list[tuple[Envelope, list[dict[str, str]]]] = []
    found = None
    if asked:
        try:
            # scans every readable share without a value: in a thread, off the loop,
            # behind the member's other heavy requests
            rows, found = await st.heavy(who.actor.member, search_rows, ex, who.actor.member,
                                         q, kind, f, since, until)
        except VigilError as exc:
            return render(request, "search.html", status=exc.status, who=who, error=exc,
                          asked=False, rows=[], found=None, f=f, page=1, pages=1, total=0,
                          **ctx)
    names = display_names(ex)
    chan_names = {c.id: c.name for c in chans}
    pages = max(1, -(-len(rows) // RESULTS))
    page = min(max(page, 1), pages)
    shown = []
    for env, obs in rows[(page - 1) * RESULTS: page * RESULTS]:
        r = row_of(env, names, chan_names, 0, env.created)
        r["observables"] = obs
        shown.append(r)
    base = urlencode([(k, v) for k, v in qp.multi_items() if k != "page"])
    return render(request, "search.html", who=who, error=None, asked=asked, rows=shown,
                  found=found, f=f, page=page, pages=pages, total=len(rows), base=base,
                  **ctx)


# -- correlation notices -------------------------------------------------------------------

def notice_page(ex: Any, member: str, before: int | None
                ) -> tuple[list[dict[str, Any]], int, bool]:
    """The newest NOTICES notices of the member before the seq ``before`` (all: None),
    the cursor of its newest notice, and whether older ones exist."""
    c = correlator(ex)
    kept: deque[dict[str, Any]] = deque(maxlen=NOTICES)
    cursor, older = 0, False
    while True:
        got, nxt = c.notices(member, cursor, 500)
        for n in got:
            if before is None or n["seq"] < before:
                if len(kept) == NOTICES:
                    older = True
                kept.append(n)
        if nxt == cursor:
            break
        cursor = nxt
    return list(reversed(kept)), cursor, older


@router.get("/correlations", response_class=HTMLResponse)
async def correlations(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    raw = request.query_params.get("before", "")
    before = params.decimal(raw)
    notices, cursor, older = await run_in_threadpool(notice_page, st.exchange,
                                                     who.actor.member, before)
    live = {"cursor": cursor} if before is None else None
    return render(request, "correlations.html", who=who, notices=notices, older=older,
                  before=before, live=live)


# -- the ledger ------------------------------------------------------------------------------

def weekly(ex: Any, member: str, now: datetime) -> tuple[list[str], dict[str, Counter[int]],
                                                         dict[str, Counter[int]]]:
    """Shares the member may read, per week of creation (the last WEEKS weeks), per
    originator and per channel: (week labels, {originator: counts}, {channel: counts})."""
    start = (now - timedelta(days=now.weekday(), weeks=WEEKS - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0)
    labels = [(start + timedelta(weeks=i)).strftime("%d %b") for i in range(WEEKS)]
    per_member: dict[str, Counter[int]] = {}
    per_channel: dict[str, Counter[int]] = {}
    for env, _ in readable_shares(ex, member):
        at = datetime.fromisoformat(env.created.replace("Z", "+00:00"))
        week = (at - start).days // 7
        if not 0 <= week < WEEKS:
            continue
        per_member.setdefault(env.originator, Counter())[week] += 1
        if env.channel:
            per_channel.setdefault(env.channel, Counter())[week] += 1
    return labels, per_member, per_channel


@router.get("/ledger", response_class=HTMLResponse)
async def ledger_page(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    ex = st.exchange
    report = await st.analysis_read(ledger.report, ex, who.actor.member)
    labels, per_member, per_channel = await run_in_threadpool(
        weekly, ex, who.actor.member, datetime.now(UTC))
    names = display_names(ex)
    chan_names = {c["id"]: c["name"] for c in report["channels"]}
    top = max([*(max(c.values()) for c in per_member.values()),
               *(max(c.values()) for c in per_channel.values()), 1])
    member_charts = [(names.get(m, m), weekly_chart(c, labels, top))
                     for m, c in sorted(per_member.items(), key=lambda kv: names.get(kv[0], ""))]
    channel_charts = [(chan_names.get(ch, ch), weekly_chart(c, labels, top))
                      for ch, c in sorted(per_channel.items(),
                                          key=lambda kv: chan_names.get(kv[0], ""))
                      if ch in chan_names]
    return render(request, "ledger.html", who=who, report=report, fields=ledger.FIELDS,
                  names=names, member_charts=member_charts, channel_charts=channel_charts,
                  weeks=WEEKS, first_week=labels[0])


# -- warninglists ----------------------------------------------------------------------------

@router.get("/warninglists", response_class=HTMLResponse)
async def warninglists(request: Request, who: SignedIn) -> Response:
    return await _warninglists(request, who, None, None, 200)


async def _warninglists(request: Request, who: Any, error: VigilError | None,
                        added: str | None, status: int) -> Response:
    st = state_of(request)
    c = correlator(st.exchange)
    own = await st.read(c.member_lists.of, who.actor.member)
    return render(request, "warninglists.html", status=status, who=who, error=error,
                  added=added, shipped=[w.summary() for w in c.lists.lists],
                  own=[w.summary() for w in own.lists])


@router.post("/warninglists", response_class=HTMLResponse)
async def add_warninglist(request: Request, who: SignedIn, form: CheckedForm) -> Response:
    """Add (or replace, by name) one of the member's own warninglists."""
    st = state_of(request)
    upload = form.files.get("upload")
    raw = upload[1] if upload is not None and upload[1] else form.get("content").encode()
    try:
        if len(raw) > MAX_LIST_BYTES:
            raise InputError(f"a warninglist is at most {MAX_LIST_BYTES} bytes",
                             code="input.too_large", status=413)
        if form.get("action") == "remove":
            if not await st.write(remove_member_list, st.exchange.store, who.actor.member,
                                  form.get("name")):
                raise InputError(f"no warninglist {form.get('name')[:80]!r} of yours",
                                 code="warninglist.not_found", status=404)
            return RedirectResponse("/warninglists", status_code=303, headers=HEADERS)
        wl = await st.write(add_member_list, st.exchange.store, who.actor.member, raw)
    except VigilError as exc:
        return await _warninglists(request, who, exc, None, exc.status)
    return await _warninglists(request, who, None, wl.name, 200)


