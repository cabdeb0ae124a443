"""Publishing from the console: a STIX bundle or a list of indicators, previewed
(who will receive it, in which form) and then sent, bound to what the preview showed."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vigil.errors import InputError, VigilError
from vigil.intel import personal
from vigil.intel.evaluation import INFORMATION, SOURCE
from vigil.intel.legal import INSTRUMENTS, PURPOSES
from vigil.intel.themes import vocabulary
from vigil.interop.iocs import Line, extract, found_iocs, indicators_bundle
from vigil.model import (
    THEMES,
    Channel,
    ShareRequest,
)
from vigil.node.exchange import Exchange
from vigil.stix.tlp import parse_tlp
from vigil.web.console.deps import (
    CheckedForm,
    SignedIn,
    Who,
)
from vigil.web.console.forms import Form
from vigil.web.console.pages import (
    HEADERS,
    TLP_LABELS,
    render,
)
from vigil.web.deps import state_of

router = APIRouter(include_in_schema=False)


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


