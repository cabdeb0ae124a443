"""Running the ASGI app with uvicorn, in one process or several workers."""

from __future__ import annotations

import logging
import os

import uvicorn
from fastapi import FastAPI

from vigil.config import Settings, load_settings
from vigil.errors import ConfigError
from vigil.web.app import create_app


def app_from_env() -> FastAPI:
    """Factory used by worker processes: settings from VIGIL_* and the data directory."""
    return create_app(load_settings())


def run(settings: Settings, *, workers: int = 1) -> None:
    logging.basicConfig(level=str(settings.log_level).upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if workers > 1:
        if settings.bus_url.startswith(("local", "memory")) or settings.store_url.startswith(
                "sqlite"):
            raise ConfigError(
                "several workers need a shared store and bus: set VIGIL_STORE=postgresql://… "
                "and VIGIL_BUS=nats://…", code="config.workers")
        os.environ["VIGIL_DATA"] = str(settings.data_dir)
        for name in ("store", "bus", "max_body", "keepalive", "node_name", "switch_interval"):
            os.environ[f"VIGIL_{name.upper()}"] = str(settings.values[name])
        uvicorn.run("vigil.web.serve:app_from_env", factory=True, host=str(settings.host),
                    port=int(settings.port), workers=workers, log_level=str(settings.log_level),
                    access_log=False)
        return
    uvicorn.run(create_app(settings), host=str(settings.host), port=int(settings.port),
                log_level=str(settings.log_level), access_log=False)
