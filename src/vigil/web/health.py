"""Probes and metrics of a node: ``/healthz``, ``/readyz`` and ``/metrics``.

``/healthz`` answers while the process runs. ``/readyz`` answers 200 only when the store
answers a read and the bus is connected, else 503 with a stable code
(``node.store_unreachable``, ``node.bus_unreachable``). ``/metrics`` is off unless the
node has a ``metrics_token`` (then it needs ``Authorization: Bearer <token>``; without
it the route answers 404 like any unknown path), or is scraped on the separate
``metrics_bind`` address (:func:`metrics_app`), which serves nothing else.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Route

from vigil.errors import VigilError
from vigil.web.deps import State, state_of
from vigil.web.metrics import CONTENT_TYPE_LATEST, token_ok

log = logging.getLogger("vigil.web")
router = APIRouter(tags=["node"])


def bus_ready(st: State) -> bool:
    ready = getattr(st.bus, "ready", True)
    return bool(ready)


async def readiness(st: State) -> VigilError | None:
    """What keeps the node from serving, or None."""
    try:
        await st.read(st.exchange.store.get_meta, "schema_version")
    except Exception as exc:
        st.metrics.store_errors.inc()
        log.warning("readiness: the store does not answer: %s", type(exc).__name__)
        return VigilError("the store does not answer", code="node.store_unreachable",
                          status=503)
    if not bus_ready(st):
        return VigilError("the bus is not connected", code="node.bus_unreachable",
                          status=503)
    return None


@router.get("/healthz")
async def healthz() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "store or bus unreachable"}})
async def readyz(request: Request) -> Response:
    """Readiness: the store answers a read and the bus is connected."""
    problem = await readiness(state_of(request))
    if problem is not None:
        return JSONResponse({"error": problem.to_dict()}, status_code=problem.status)
    return JSONResponse({"status": "ok"})


async def scrape(st: State) -> Response:
    await st.read(st.metrics.refresh, st.exchange.store)
    return Response(st.metrics.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text format, for a scraper that presents the node's metrics token."""
    st = state_of(request)
    auth = request.headers.get("authorization", "")
    scheme, _, presented = auth.partition(" ")
    if scheme.lower() != "bearer" or not token_ok(presented.strip(),
                                                  str(st.settings.metrics_token)):
        raise HTTPException(404)  # exactly what an unknown path answers
    return await scrape(st)


def metrics_app(main: Any) -> Starlette:
    """The app of the separate metrics address: ``/metrics`` of ``main``, open."""
    async def endpoint(request: Request) -> Response:
        return await scrape(main.state.vigil)

    return Starlette(routes=[Route("/metrics", endpoint)])
