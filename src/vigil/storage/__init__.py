"""Stores, picked by URL scheme through lazy imports."""

from __future__ import annotations

import importlib

from vigil.errors import ConfigError
from vigil.storage.base import Store

_BACKENDS: dict[str, str] = {
    "sqlite": "vigil.storage.sqlite:SqliteStore",
    "postgresql": "vigil.storage.postgres:PostgresStore",
    "postgres": "vigil.storage.postgres:PostgresStore",
}


def open_store(url: str) -> Store:
    scheme = url.split(":", 1)[0]
    target = _BACKENDS.get(scheme)
    if target is None:
        raise ConfigError(f"unknown store URL scheme {scheme!r}", code="config.store_url")
    module, _, name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(
            f"the {scheme} store needs an extra: pip install 'vigil[{scheme}]' ({exc})",
            code="config.missing_extra",
        ) from exc
    store: Store = cls(url)
    store.migrate()
    return store


__all__ = ["Store", "open_store"]
