"""How a console page is rendered: the templates, the security headers every page
carries, the error and not-found pages, and the console's static assets."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from vigil import __version__
from vigil.errors import NotFound, VigilError
from vigil.stix.tlp import TLP_ORDER
from vigil.web.deps import state_of

if TYPE_CHECKING:
    from vigil.web.console.deps import Who


router = APIRouter(include_in_schema=False)

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


def to_signin() -> Response:
    return RedirectResponse("/signin", status_code=303, headers=HEADERS)


# -- static assets ------------------------------------------------------------------

@router.get("/static/console/{name}")
async def static(name: str) -> Response:
    if name not in STATIC:
        return Response("not found", status_code=404, media_type="text/plain")
    data = resources.files("vigil.web.console").joinpath("static", name).read_bytes()
    return Response(data, media_type=STATIC[name],
                    headers={"cache-control": "public, max-age=3600",
                             "x-content-type-options": "nosniff"})


