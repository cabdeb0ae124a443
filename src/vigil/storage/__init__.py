"""Stores, picked by URL scheme through lazy imports."""

from __future__ import annotations

from vigil.backends import load_backend
from vigil.storage.base import Store

_BACKENDS: dict[str, str] = {
    "sqlite": "vigil.storage.sqlite:SqliteStore",
    "postgresql": "vigil.storage.postgres:PostgresStore",
    "postgres": "vigil.storage.postgres:PostgresStore",
}


def open_store(url: str) -> Store:
    """Open (and migrate) the store named by a URL: sqlite:///PATH or postgresql://…"""
    store: Store = load_backend(_BACKENDS, url, "store")
    store.migrate()
    return store


__all__ = ["Store", "open_store"]
