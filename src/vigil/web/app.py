"""create_app(settings): the ASGI application of a node."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator
from functools import partial

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from vigil import __version__
from vigil.analysis.correlate import correlator
from vigil.bus import Bus, open_bus
from vigil.config import Settings
from vigil.features import open_exchange
from vigil.feeds import scheduler as feed_scheduler
from vigil.node import id_merges, retention
from vigil.node.bundle_pool import BundlePool, default_processes
from vigil.node.exchange import Exchange
from vigil.web import access as access_api
from vigil.web import accountability as accountability_api
from vigil.web import analysis as analysis_api
from vigil.web import apidocs, health, rest, stream
from vigil.web import errors as web_errors
from vigil.web import federation as federation_api
from vigil.web import intel as intel_api
from vigil.web import interop as interop_api
from vigil.web import keys as keys_api
from vigil.web import ledger as ledger_api
from vigil.web import log as log_api
from vigil.web import taxii as taxii_server
from vigil.web import tokens as tokens_api
from vigil.web import trust as trust_api
from vigil.web.console import router as console_router
from vigil.web.console.deps import Stop as console_stop
from vigil.web.console.deps import stopped as console_stopped
from vigil.web.deps import State
from vigil.web.metrics import store_error
from vigil.web.observe import observed
from vigil.web.workers import SETTLE, Workers

log = logging.getLogger("vigil.web")

FAST_PATHS = frozenset({stream.PATH, analysis_api.SEARCH_PATH,
                        analysis_api.CORRELATIONS_PATH})


class VigilApp(FastAPI):
    """FastAPI, observed (request id, access log, metrics), with HEAD served as GET
    without a body, and the push stream, search and correlation notices served before
    routing and middleware."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and hasattr(self.state, "vigil"):
            await observed(self._serve, self.state.vigil.metrics, FAST_PATHS,
                           scope, receive, send)  # request id, access log, metrics
            return
        await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope, send = web_errors.head_as_get(scope, send)
        if (scope["type"] == "http" and scope["method"] == "GET"
                and hasattr(self.state, "vigil")):
            if scope["path"] == stream.PATH:
                await web_errors.guard(partial(stream.fast_path, self.state.vigil),
                                       scope, receive, send)
                return
            if scope["path"] == analysis_api.SEARCH_PATH:
                await web_errors.guard(partial(analysis_api.search_fast_path,
                                               self.state.vigil), scope, receive, send)
                return
            if scope["path"] == analysis_api.CORRELATIONS_PATH:
                await web_errors.guard(partial(analysis_api.correlations_fast_path,
                                               self.state.vigil), scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def serve(app: FastAPI, state: State) -> None:
    """Give the app's routes the node's state: ``app.state.vigil`` for the REST routes,
    the stream and the console (``vigil.web.deps``), ``app.state.taxii`` for the TAXII
    routes (``vigil.web.taxii.Host``; a gateway gives them its own)."""
    app.state.vigil = state
    host: taxii_server.Host = taxii_server.NodeHost(state)
    app.state.taxii = host


def freeze_heap() -> None:
    """Leave what a serving process holds for good (its modules, the application, the
    node's state as it starts) out of every later collection of the garbage collector.

    A full collection walks every object the collector tracks, most of them made at
    import; in a node serving 100 streams one came every few hundred shares and held
    the interpreter for about 70 ms (of CPU, more under load), the slowest share of a
    run. Frozen objects are still freed when their last reference goes; only cycles
    among them are never collected, and none of them is garbage at this point (a
    collection runs first)."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings, *, exchange: Exchange | None = None,
               bus: Bus | None = None, serving: bool = False) -> FastAPI:
    """The node's application; ``serving``: it runs in a process of its own
    (``vigil serve``), whose heap it may freeze once started (``freeze_heap``)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # heavy requests run in threads: let the event loop take the interpreter back
        # sooner than Python's default 5 ms, so other members' requests wait less
        sys.setswitchinterval(float(settings.switch_interval))
        workers = Workers.install()  # the threads the store closes after (vigil.web.workers)
        ex = exchange or open_exchange(settings)
        if ex.bundles.processes == 0:  # large bundles are checked in worker processes
            ex.bundles = BundlePool(default_processes(int(settings.publish_processes)))
            ex.store.on_close.append(ex.bundles.close)
        b = bus or open_bus(settings.bus_url)
        await b.start()
        serve(app, State(settings, ex, b))
        app.state.vigil.metrics.install(ex)
        feeds = asyncio.create_task(feed_scheduler.run(ex, b.ring), name="vigil-feeds")
        loop = asyncio.get_running_loop()

        def ring_notices(members: frozenset[str]) -> None:  # from any thread
            keys = [analysis_api.notice_bell(m) for m in members]
            asyncio.run_coroutine_threadsafe(b.ring(keys), loop)

        correlation = correlator(ex)
        correlation.listeners.append(ring_notices)
        correlation.warm_up()  # load the index in the background, not at a first search
        purger = asyncio.create_task(retention.run(ex, float(settings.retention_interval)),
                                     name="vigil-retention")
        merges = asyncio.create_task(id_merges.run(ex), name="vigil-id-merges")
        fed = None
        if settings.fed_name:  # peer links (vigil.federation)
            from vigil.federation.sender import Service
            fed = app.state.federation = Service(ex, settings, b.ring)
            await fed.start()
            from vigil.federation.trust import TrustService
            trust = app.state.trust = TrustService(  # witnesses, directory, alarms
                ex, cadence=float(settings.fed_heartbeat), hop_key=fed.hop_key(),
                tls_pair=fed.tls_pair)
            trust.attach(fed)
            await trust.start()
            from vigil.federation.relaying import Relaying
            app.state.relaying = Relaying(  # relayed hops, all three ends
                ex, fed.hop_key(), tls_pair=fed.tls_pair,
                receipt_period=float(settings.fed_receipt_period))
            await app.state.relaying.start()
        if serving:
            freeze_heap()
        try:
            yield
        finally:
            if fed is not None:
                await app.state.trust.stop()
                await fed.stop()
                await app.state.relaying.close()
            correlation.listeners.remove(ring_notices)
            app.state.vigil.metrics.uninstall(ex)
            feeds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeds
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            merges.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await merges
            await b.close()
            # a cancelled task's thread runs on: the store closes once none is inside it
            settled = await workers.settle()
            if not settled:
                log.warning("shutdown: %d worker call(s) still running after %.0f s; "
                            "the store is left open", workers.busy(), SETTLE)
            aclose = getattr(ex.store, "aclose", None)
            if aclose is not None and settled:
                await aclose()  # the push path's connections live on this loop
            if exchange is None and settled:
                ex.store.close()

    app = VigilApp(
        title="vigil",
        version=__version__,
        summary="Threat-intelligence exchange: signed, sealed, immediate and fair.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served from the package by vigil.web.apidocs
        redoc_url=None,
        lifespan=lifespan,
    )

    web_errors.install(app)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        st = getattr(request.app.state, "vigil", None)
        if st is not None and store_error(exc):
            st.metrics.store_errors.inc()
        return web_errors.response(exc, request.url.path)  # logs it

    app.include_router(health.router)  # /healthz, /readyz, /metrics
    app.include_router(rest.router, prefix="/api/v1")
    app.include_router(stream.router, prefix="/api/v1")
    app.include_router(accountability_api.router, prefix="/api/v1")  # receipts, recall
    app.include_router(analysis_api.router, prefix="/api/v1")  # correlation, search
    app.include_router(ledger_api.router, prefix="/api/v1")  # sightings, ledger, blind tokens
    app.include_router(log_api.router, prefix="/api/v1")
    app.include_router(access_api.router, prefix="/api/v1")  # revoking users, members
    app.include_router(interop_api.router, prefix="/api/v1")  # MISP in and out
    app.include_router(tokens_api.router, prefix="/api/v1")  # scoped tokens, sign-in events
    app.include_router(keys_api.router, prefix="/api/v1")  # key life cycle
    app.include_router(federation_api.router)  # node-to-node, node-signed (not tokens)
    app.include_router(intel_api.router, prefix="/api/v1")  # consent, uses, selector matching
    app.include_router(trust_api.router)  # witness, directory, fork alarms
    app.include_router(apidocs.router)
    app.include_router(console_router)
    app.add_exception_handler(console_stop, console_stopped)  # to sign-in, stale forms
    app.include_router(taxii_server.router, prefix=taxii_server.PREFIX)
    return app

