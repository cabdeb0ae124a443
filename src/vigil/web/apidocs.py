"""The API reference page (``/api/docs``), served whole from the node.

Swagger UI's script and style come from the ``swagger-ui-bundle`` package, served under
``/api/docs/assets/``; the page sets no validator and no favicon of another host, and its
Content-Security-Policy lets the browser load nothing from anywhere but the node.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from swagger_ui_bundle import swagger_ui_path

from vigil.errors import NotFound

PATH = "/api/docs"
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' "
       "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
router = APIRouter(include_in_schema=False)


@router.get(PATH)
async def docs() -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url="/api/openapi.json", title="vigil API",
        swagger_js_url=f"{PATH}/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{PATH}/assets/swagger-ui.css",
        swagger_favicon_url="data:,",
        swagger_ui_parameters={"validatorUrl": None})
    page.headers["content-security-policy"] = CSP
    return page


@router.get(PATH + "/assets/{name}")
async def asset(name: str) -> FileResponse:
    media = ASSETS.get(name)
    if media is None:
        raise NotFound(f"no asset {name!r}", code="http.not_found")
    return FileResponse(Path(swagger_ui_path) / name, media_type=media,
                        headers={"cache-control": "public, max-age=86400"})
