"""Running the ASGI app with uvicorn, in one process or several workers."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

from vigil import logs
from vigil.config import Settings, load_settings
from vigil.errors import ConfigError
from vigil.web.app import create_app
from vigil.web.health import metrics_app
from vigil.web.tls import uvicorn_options

M_ARENA_MAX = -8  # glibc's mallopt parameter


def bound_malloc_arenas(arenas: int) -> bool:
    """Let glibc's malloc use at most ``arenas`` arenas in this process; whether it was
    set. glibc gives each new thread an arena of its own, up to 8 per core: every pool
    thread that ran SQLite or a crypto call kept the memory it freed in an arena of its
    own, which grew a serving node by tens of MiB over a soak. Called before the
    server's threads start; a no-op elsewhere than glibc, with ``arenas`` 0, or when
    ``MALLOC_ARENA_MAX`` is in the environment (glibc read it already)."""
    if arenas <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_ARENA_MAX, arenas))


def app_from_env() -> FastAPI:
    """Factory used by worker processes: settings from VIGIL_* and the data directory."""
    settings = load_settings()
    bound_malloc_arenas(settings.malloc_arenas)
    logs.setup(str(settings.log_level), str(settings.log_format))
    return create_app(settings, serving=True)


CLOSING_POLL = 0.5  # seconds between looks at the connections closing at a shutdown
STARTUP_FAILURE = 3  # the exit status of a server that did not start (as uvicorn.run's)


class Server(uvicorn.Server):
    """uvicorn's server, whose shutdown does not wait on idle TLS connections. At a
    shutdown uvicorn closes each idle keep-alive connection and waits until every one is
    gone; a TLS connection closes only when the other side answers its close_notify, and
    a peer's idle pooled connection answers only when next used, so each one would hold
    the shutdown for the TLS shutdown timeout (30 s). Here a connection that uvicorn
    closed, with everything written, and that still waits on a later look (every
    ``CLOSING_POLL`` seconds) is aborted. A request in flight is not closing: it is
    answered before its connection closes, as uvicorn does."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        dropping = asyncio.ensure_future(self._drop_closed())
        try:
            await super().shutdown(sockets)
        finally:
            dropping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dropping

    async def _drop_closed(self) -> None:
        seen: set[int] = set()
        while True:
            await asyncio.sleep(CLOSING_POLL)
            seen = drop_closed(self.server_state.connections, seen)


def drop_closed(connections: Any, seen: set[int]) -> set[int]:
    """Abort those of ``connections`` that are closing with nothing left to write and
    were so at the previous look too (``seen``); those closing now."""
    now: set[int] = set()
    for conn in list(connections):
        transport: Any = getattr(conn, "transport", None)
        if transport is None or not transport.is_closing() \
                or transport.get_write_buffer_size():
            continue
        if id(conn) in seen:
            transport.abort()
        now.add(id(conn))
    return now


class _SideServer(Server):
    """A second listener in the main server's loop; the main server handles signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def split_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"metrics_bind {bind!r} is not HOST:PORT", code="config.bad_value")
    return host.strip("[]"), int(port)


def run(settings: Settings, *, workers: int = 1, tls_cert: str | None = None,
        tls_key: str | None = None, tls_client_ca: str | None = None) -> None:
    """Serve the node; with ``tls_cert`` and ``tls_key`` over HTTPS, asking clients for a
    certificate of ``tls_client_ca`` when given (vigil.web.tls)."""
    bound_malloc_arenas(settings.malloc_arenas)
    tls = uvicorn_options(tls_cert, tls_key, tls_client_ca, peers=bool(settings.fed_name))
    logs.setup(str(settings.log_level), str(settings.log_format))
    bind = str(settings.metrics_bind)
    if workers > 1:
        if settings.bus_url.startswith(("local", "memory")) or settings.store_url.startswith(
                "sqlite"):
            raise ConfigError(
                "several workers need a shared store and bus: set VIGIL_STORE=postgresql://… "
                "and VIGIL_BUS=nats://…", code="config.workers")
        if bind:
            raise ConfigError("metrics_bind serves one process's metrics: with several "
                              "workers scrape each worker's port with metrics_token",
                              code="config.workers")
        os.environ["VIGIL_DATA"] = str(settings.data_dir)
        for name in ("store", "bus", "max_body", "keepalive", "node_name", "log_format",
                     "metrics_token", "switch_interval", "fed_tls_cert", "fed_tls_key"):
            os.environ[f"VIGIL_{name.upper()}"] = str(settings.values[name])
        uvicorn.run("vigil.web.serve:app_from_env", factory=True, host=str(settings.host),
                    port=int(settings.port), workers=workers, log_level=str(settings.log_level),
                    access_log=False, log_config=None, **tls)
        return
    app = create_app(settings, serving=True)
    if not bind:
        server = Server(uvicorn.Config(app, host=str(settings.host), port=int(settings.port),
                                       log_level=str(settings.log_level), access_log=False,
                                       log_config=None, **tls))
        with contextlib.suppress(KeyboardInterrupt):
            server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    host, port = split_bind(bind)
    main = Server(uvicorn.Config(app, host=str(settings.host), port=int(settings.port),
                                         log_level=str(settings.log_level), access_log=False,
                                         log_config=None, **tls))
    side = _SideServer(uvicorn.Config(metrics_app(app), host=host, port=port,
                                         log_level=str(settings.log_level), access_log=False,
                                         log_config=None, lifespan="off"))

    async def both() -> None:
        serving = asyncio.ensure_future(main.serve())
        while not main.started and not serving.done():
            await asyncio.sleep(0.05)
        if serving.done():
            await serving
            return
        metrics = asyncio.ensure_future(side.serve())
        try:
            await serving
        finally:
            side.should_exit = True
            await metrics

    uvloop.run(both())
