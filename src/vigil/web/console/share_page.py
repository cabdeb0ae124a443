"""One share's page: its content as the member may read it, verified, with its
receipts, sightings and intelligence handling."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vigil.analysis import sightings
from vigil.errors import NotFound, VigilError
from vigil.model import (
    Envelope,
    Provenance,
)
from vigil.node import accountability as acc
from vigil.node.exchange import Exchange
from vigil.node.keylife import home_revocation
from vigil.protocol.witnessing import SIGNED_BEFORE_REVOCATION
from vigil.stix import strictjson
from vigil.web.console.deps import (
    SignedIn,
)
from vigil.web.console.inbox_pages import display_names
from vigil.web.console.pages import (
    not_found,
    render,
)
from vigil.web.console.stixview import bundle_view
from vigil.web.deps import State, state_of

router = APIRouter(include_in_schema=False)
VERDICTS = tuple(v.value for v in sightings.Verdict)


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
    kid = str(h["key"])
    rec = ex.keybook.get(d, kid)
    # a share past a revocation point is marked and never shown: one shown here that its
    # key's revocation (this node's, or the home's for another node's member) did not
    # mark was signed before it
    revoked = (rec is not None and rec.revoked) or home_revocation(ex, kid) is not None
    return (f"signed by {m.display_name} (member:{m.name}, {kid}), verified"
            + (f", {SIGNED_BEFORE_REVOCATION}" if revoked else ""))


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


