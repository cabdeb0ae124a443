"""The analyst console: server-rendered pages over the same exchange use cases as the API.

Every read goes through ``Exchange`` (and so through the one policy function); a share
the member may not read answers the same "not found" page as one that does not exist.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from vigil import __version__, params
from vigil.analysis import sightings
from vigil.errors import AuthError, InputError, NotFound, VigilError
from vigil.intel import personal
from vigil.intel.evaluation import INFORMATION, SOURCE
from vigil.intel.header import summary
from vigil.intel.legal import INSTRUMENTS, PURPOSES
from vigil.intel.themes import vocabulary
from vigil.interop.iocs import Line, extract, found_iocs, indicators_bundle
from vigil.log.gossip import Gossip
from vigil.log.note import vkey
from vigil.model import (
    THEMES,
    Actor,
    Channel,
    ChannelKind,
    Envelope,
    Member,
    Provenance,
    ShareRequest,
)
from vigil.node import accountability as acc
from vigil.node.exchange import Exchange
from vigil.policy.access import Access
from vigil.signin import audit, passkeys
from vigil.stix import strictjson
from vigil.stix.tlp import TLP_ORDER, parse_tlp
from vigil.web import scopes
from vigil.web.auth import SESSION_COOKIE, Session, sessions
from vigil.web.console.forms import Form, parse_form
from vigil.web.console.stixview import bundle_view
from vigil.web.deps import State, read_body, state_of
from vigil.web.observe import route_of
from vigil.web.throttle import COUNTED, Throttled

router = APIRouter(include_in_schema=False)

PRE_CSRF_COOKIE = "vigil_signin_csrf"
INBOX_ROWS = 100  # rows per page of the inbox and sent
PAGE = 500
VERDICTS = tuple(v.value for v in sightings.Verdict)
TLP_LABELS = {t.value: "TLP:" + t.value.upper() for t in TLP_ORDER}
HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
}
STATIC = {"console.css": "text/css; charset=utf-8",
          "console.js": "text/javascript; charset=utf-8",
          "passkeys.js": "text/javascript; charset=utf-8"}

ENV = Environment(loader=PackageLoader("vigil.web.console", "templates"), autoescape=True,
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.globals["tlp_label"] = lambda v: TLP_LABELS.get(str(v), str(v).upper())
ENV.globals["version"] = __version__


@dataclass(frozen=True, slots=True)
class Who:
    actor: Actor
    session: Session
    member: Member


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, template: str, *, status: int = 200, who: Who | None = None,
           **ctx: Any) -> HTMLResponse:
    st = state_of(request)
    trust = getattr(request.app.state, "trust", None)  # fork alarms: a banner on every page
    alarms = sorted(trust.alarms.refused_nodes()) if trust is not None and who else []
    html = ENV.get_template(template).render(
        node_name=st.settings.node_name, who=who, csrf=who.session.csrf if who else "",
        path=request.url.path, fork_alarms=alarms, **ctx)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def error_page(request: Request, who: Who | None, exc: VigilError) -> HTMLResponse:
    title = "Not found" if exc.status == 404 else "Error"
    return render(request, "error.html", status=exc.status, who=who, title=title, error=exc)


def not_found(request: Request, who: Who | None, what: str) -> HTMLResponse:
    return error_page(request, who, NotFound(f"{what} not found", code="console.not_found"))


def share_error_page(request: Request, who: Who | None, exc: VigilError) -> HTMLResponse:
    """A refused action on a share: a share the member may not see is "not found" as any
    missing page is; other refusals say why."""
    if exc.code == "share.not_found":
        return not_found(request, who, "share")
    return error_page(request, who, exc)


async def signed_in(request: Request) -> Who | None:
    """The member and user behind the session cookie, authenticated afresh."""
    st = state_of(request)
    s = await st.read(sessions(st.exchange).get, request.cookies.get(SESSION_COOKIE))
    if s is None:
        return None
    scopes.require(s.actor, request.method, route_of(request.scope, frozenset()))
    return Who(s.actor, s, st.exchange.directory().members[s.actor.member])


def to_signin() -> Response:
    return RedirectResponse("/signin", status_code=303, headers=HEADERS)


async def read_form(request: Request, st: State) -> Form:
    raw = await read_body(request, int(st.settings.max_body) + 64 * 1024)
    return parse_form(request.headers.get("content-type", ""), raw)


def csrf_ok(expected: str, form: Form) -> bool:
    got = form.get("csrf")
    return bool(expected) and bool(got) and hmac.compare_digest(got.encode(), expected.encode())


def csrf_refused(request: Request, who: Who | None) -> HTMLResponse:
    return error_page(request, who, VigilError(
        "the form's CSRF token is missing or stale; reload the page and try again",
        code="auth.csrf", status=403))


class Stop(Exception):
    """Ends a console request before its handler runs, with a ready response: the way to
    the sign-in page, or the refusal of a form whose CSRF token is wrong."""

    def __init__(self, response: Response) -> None:
        super().__init__("console request answered early")
        self.response = response


async def stopped(request: Request, exc: Exception) -> Response:
    """The app's handler of ``Stop``."""
    assert isinstance(exc, Stop)
    return exc.response


async def _signed_in_or_stop(request: Request) -> Who:
    who = await signed_in(request)
    if who is None:
        raise Stop(to_signin())
    return who


# A console page's user: signed in (else the request goes to the sign-in page)
SignedIn = Annotated[Who, Depends(_signed_in_or_stop)]


async def _checked_form(request: Request, who: SignedIn) -> Form:
    form = await read_form(request, state_of(request))
    if not csrf_ok(who.session.csrf, form):
        raise Stop(csrf_refused(request, who))
    return form


# A console POST's form, read within the size limit, its CSRF token checked
CheckedForm = Annotated[Form, Depends(_checked_form)]


# -- static assets ------------------------------------------------------------------

@router.get("/static/console/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    data = resources.files("vigil.web.console").joinpath("static", name).read_bytes()
    return Response(data, media_type=STATIC[name],
                    headers={"cache-control": "public, max-age=3600",
                             "x-content-type-options": "nosniff"})


# -- sign-in ------------------------------------------------------------------------

@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request) -> Response:
    from vigil.web.console.signin_flow import signin_page
    return await state_of(request).read(signin_page, request)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    from vigil.web.console.signin_flow import signin_page
    st = state_of(request)
    form = await read_form(request, st)
    if not csrf_ok(request.cookies.get(PRE_CSRF_COOKIE, ""), form):
        return csrf_refused(request, None)
    token = form.get("token").strip()
    address = request.client.host if request.client else ""
    keys = st.throttle.keys(address or None, token)
    try:
        st.throttle.check(keys)
        actor = await st.read(st.exchange.authenticate, token)
    except Throttled as exc:
        page = await st.read(signin_page, request, exc, status=exc.status)
        page.headers.update(exc.headers)
        return page
    except AuthError as exc:
        if exc.code in COUNTED:
            st.throttle.failed(keys, exc.code)
            await st.write(audit.failed, st.exchange, token, exc.code, address)
        return await st.read(signin_page, request, exc, status=401)
    if await st.read(passkeys.needed, st.exchange, actor):  # a key is asked for too
        from vigil.web.console.key_pages import to_key_step
        return await to_key_step(request, actor, "token")
    session = await st.write(sessions(st.exchange).create, token, address)
    done = RedirectResponse("/", status_code=303, headers=HEADERS)
    done.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="strict",
                    secure=_secure(request), path="/")
    done.delete_cookie(PRE_CSRF_COOKIE, path="/signin")
    return done


@router.post("/signout")
async def signout(request: Request, who: SignedIn, form: CheckedForm) -> Response:
    st = state_of(request)
    from vigil.web.console.sso_pages import logout_url
    end = await logout_url(request, who.session.id)  # the provider's too, for SSO
    await st.write(sessions(st.exchange).drop, who.session.id)
    # to the provider by a page, not a redirect: the form-action CSP forbids the latter
    resp = to_signin() if end is None else render(
        request, "continue.html", next=end, message="Signed out of the console",
        link="Sign out of the identity provider too")
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return resp


# -- inbox --------------------------------------------------------------------------

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


# -- one share ---------------------------------------------------------------------

def provenance_words(ex: Exchange, st: State, env: Envelope) -> str:
    d = ex.directory()
    h = env.header
    if h.get("provenance") == Provenance.ATTESTED.value:
        posted = h.get("posted_by")
        m = d.members.get(posted["member"] if posted else env.originator)
        who = f"{m.display_name} (member:{m.name})" if m else env.originator
        return (f"attested by node {st.settings.node_name} ({ex.node_id}): received from "
                f"{who}, verified")
    m = d.members[env.originator]
    return f"signed by {m.display_name} (member:{m.name}, {h['key']}), verified"


@router.get("/shares/{share_id}", response_class=HTMLResponse)
async def share(share_id: str, request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    ex = st.exchange
    try:
        env, state = await st.read(ex.share, who.actor.member, share_id)
    except NotFound:
        return not_found(request, who, "share")
    from vigil.consent import service as consent
    from vigil.intel.handling import OPEN, require_purpose
    from vigil.web.console.intel_pages import share_ctx
    q = request.query_params
    needs_purpose = False
    try:
        if require_purpose(env.header, who.actor.member, q.get("purpose")):
            await st.write(consent.use, ex, who.actor.member, share_id, OPEN,
                           q.get("purpose", ""))
    except VigilError as exc:
        if exc.code != "share.purpose_required":
            raise
        needs_purpose = True
    if not needs_purpose:
        await st.write(ex.record_opened, who.actor.member, env)  # may write: off the loop
    d = ex.directory()
    chans = {c.id: c.name for c in await st.read(ex.channels, who.actor.member)}
    try:
        plain = None if needs_purpose else await st.write(ex.open, who.actor.member, env)
        verified, provenance, problem = True, provenance_words(ex, st, env), None
    except VigilError as exc:
        plain, verified, provenance, problem = None, False, "", exc
    if state.recalled or state.purged:  # its payload is gone from the node: say only that
        plain, verified, provenance, problem = None, False, "", None
    view = None
    if plain is not None:
        try:
            bundle = strictjson.loads(plain, max_bytes=len(plain) + 1)
            view = bundle_view(bundle if isinstance(bundle, dict) else {})
        except VigilError as exc:
            problem = exc
    h = env.header
    originator = d.members.get(env.originator)
    receipts = None
    if env.originator == who.actor.member:  # the originator's view; 404 for anyone else
        receipts = await st.read(acc.receipts_view, ex, who.actor.member, share_id)
        names = display_names(ex)
        for r in receipts["recipients"]:
            r["display_name"] = names.get(r["member"], r["member"])
    seen = await st.read(sightings.sightings_of_share, ex, who.actor.member, share_id)
    ind_names = {i["id"]: i["name"] or i["pattern"] for i in view.indicators} if view else {}
    intel = await st.read(share_ctx, ex, who.actor.member, env)
    return render(
        request, "share.html", who=who, env=env, h=h, state=state, verified=verified,
        provenance=provenance, problem=problem, view=view,
        sealed=plain is None and verified and not needs_purpose, needs_purpose=needs_purpose,
        **intel, done={k: q.get(k) == "1" for k in ("used", "asked", "granted", "refused")},
        originator=originator, channel=chans.get(env.channel or "", env.channel),
        receipts=receipts, sightings=seen, ind_names=ind_names, verdicts=VERDICTS,
        names=display_names(ex),
        published=q.get("published") == "1", recalled=q.get("recalled") == "1",
        sighted=q.get("sighted") == "1")


# -- publish --------------------------------------------------------------------------

def bundle_bytes(form: Form) -> tuple[bytes, str, list[Line]]:
    """The bundle to publish, the text to show back in the form, and the lines of an
    indicator list that hold nothing readable (shown in the preview, left out)."""
    upload = form.files.get("upload")
    if upload is not None and upload[1]:
        try:
            text = upload[1].decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the uploaded file is not UTF-8 text", code="input.encoding",
                             pointer="/upload") from None
    else:
        text = form.get("content")
    kind = form.get("kind", "auto")
    stripped = text.strip()
    if not stripped:
        raise InputError("nothing to publish: paste or upload a STIX bundle or a list of "
                         "indicators", code="input.empty", pointer="/content")
    if kind == "stix" or (kind == "auto" and stripped.startswith("{")):
        return stripped.encode(), text, []
    lines = extract(text)
    skipped = [x for x in lines if x.skipped]
    found = found_iocs(lines)
    if not found:  # nothing is dropped silently: name every line not understood
        shown = "; ".join(f"line {x.number} ({x.text.strip()[:60]!r})" for x in skipped[:10])
        more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
        raise InputError(
            f"nothing to publish: {len(skipped)} line(s) hold no IP address, network, "
            f"domain, URL, e-mail address or hash: {shown}{more}",
            code="input.ioc", pointer=f"/lines/{skipped[0].number - 1}")
    return orjson.dumps(indicators_bundle(found)), text, skipped


def publish_ctx(ex: Exchange, who: Who, chans: list[Channel], form: Form,
                text: str) -> dict[str, Any]:
    members = sorted((m for m in ex.directory().members.values()
                      if m.active and m.id != who.actor.member), key=lambda m: m.display_name)
    return {"channels": chans, "members": members, "themes": THEMES, "tlps": TLP_LABELS,
            "instruments": INSTRUMENTS, "purposes": PURPOSES, "subthemes": vocabulary(),
            "sources": SOURCE, "informations": INFORMATION,
            "v": {"content": text, "kind": form.get("kind", "auto"),
                  "channel": form.get("channel"), "recipients": form.all("recipients"),
                  "tlp": form.get("tlp", "amber"), "purpose": form.get("purpose"),
                  "no_onward": form.get("no_onward") == "1", "expires": form.get("expires"),
                  "themes": form.all("themes"), "more_themes": form.get("more_themes"),
                  "regions": form.get("regions"), "evaluation": form.get("evaluation"),
                  "scheme": form.get("scheme", "admiralty"),
                  "legal_basis": form.get("legal_basis"),
                  "legal_purposes": form.all("legal_purposes"),
                  "personal_data": form.get("personal_data") == "1"}}


def _evaluation(form: Form) -> str | None:
    """The form's evaluation as a code (``B2``, ``4x4:B2``), or None."""
    code = form.get("evaluation").strip().upper()
    if not code:
        return None
    scheme = form.get("scheme", "admiralty")
    return code if scheme == "admiralty" else f"{scheme}:{code}"


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]


@router.get("/publish", response_class=HTMLResponse)
async def publish_form(request: Request, who: SignedIn) -> Response:
    st = state_of(request)
    chans = await st.read(st.exchange.channels, who.actor.member)
    return render(request, "publish.html", who=who, error=None, preview=None, notice=None,
                  **publish_ctx(st.exchange, who, chans, Form(), ""))


@router.post("/publish", response_class=HTMLResponse)
async def publish(request: Request, who: SignedIn, form: CheckedForm) -> Response:
    st = state_of(request)
    ex = st.exchange
    chans = await st.read(ex.channels, who.actor.member)
    text = form.get("content")
    notice = None
    try:
        raw, text, unread = bundle_bytes(form)
        to = ([form.get("channel")] if form.get("channel") else []) + \
            [f"member:{n}" for n in form.all("recipients")]
        req = ex.make_request(
            who.actor.member, tlp=parse_tlp(form.get("tlp", "amber")), to=to,
            purpose=form.get("purpose").strip() or None,
            no_onward=form.get("no_onward") == "1",
            themes=form.all("themes") + _split(form.get("more_themes")),
            regions=_split(form.get("regions")), expires=form.get("expires").strip() or None,
            evaluation=_evaluation(form), legal_basis=form.get("legal_basis").strip() or None,
            legal_purposes=form.all("legal_purposes"),
            personal_data=form.get("personal_data") == "1")
        parsed = await st.heavy(who.actor.member, ex.parse_bundle, raw)
        personal.check(parsed, req.personal_data)  # confirm (personal_data) or redact
        dec = ex.preview(req)
        seal = preview_seal(who.session.csrf, text, req, dec.recipients)
        if form.get("action") == "send":
            if hmac.compare_digest(seal, form.get("previewed")):
                pub = await st.heavy(who.actor.member, ex.publish_bundle, who.actor, raw, req)
                await st.bus.ring((*pub.recipients, who.actor.member))
                return RedirectResponse(f"/shares/{pub.envelope.id}?published=1",
                                        status_code=303, headers=HEADERS)
            notice = ("Nothing was sent: the form or its recipients changed since the "
                      "preview. Check who will receive it below and press Send again.")
    except VigilError as exc:
        return render(request, "publish.html", status=exc.status, who=who, error=exc,
                      preview=None, notice=None, **publish_ctx(ex, who, chans, form, text))
    d = ex.directory()
    preview = {"recipients": [d.members[r] for r in dec.recipients], "form": dec.form,
               "channel": next((c.name for c in chans if c.id == req.audience.channel), None),
               "tlp": req.audience.tlp.value, "seal": seal,
               "community_rule": ex.preview_delays(req, dec), "unread": unread}
    return render(request, "publish.html", status=409 if notice else 200, who=who,
                  error=None, preview=preview, notice=notice,
                  **publish_ctx(ex, who, chans, form, text))


def preview_seal(key: str, text: str, req: ShareRequest, recipients: tuple[str, ...]) -> str:
    """Binds a Send to what its Preview showed: the content, the request and the
    recipients the policy gave (keyed by the session's CSRF token)."""
    text = text.replace("\r\n", "\n").strip()  # as a browser sends a textarea back
    msg = orjson.dumps([text, req.audience.tlp.value, req.audience.channel,
                        list(req.audience.recipients), req.handling.purpose,
                        req.handling.no_onward, list(req.themes), list(req.regions),
                        req.expires, list(recipients), repr(req.evaluation), repr(req.legal),
                        req.personal_data])
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


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


# -- log ---------------------------------------------------------------------------------

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
