"""Buses, picked by URL scheme through lazy imports."""

from __future__ import annotations

import importlib

from vigil.bus.base import Bus, LocalHub, Subscription
from vigil.errors import ConfigError

_BACKENDS: dict[str, str] = {
    "local": "vigil.bus.local:LocalBus",
    "memory": "vigil.bus.local:LocalBus",
    "nats": "vigil.bus.jetstream:JetStreamBus",
}


def open_bus(url: str) -> Bus:
    scheme = url.split(":", 1)[0]
    target = _BACKENDS.get(scheme)
    if target is None:
        raise ConfigError(f"unknown bus URL scheme {scheme!r}", code="config.bus_url")
    module, _, name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(
            f"the {scheme} bus needs an extra: pip install 'vigil[{scheme}]' ({exc})",
            code="config.missing_extra",
        ) from exc
    bus: Bus = cls(url)
    return bus


__all__ = ["Bus", "LocalHub", "Subscription", "open_bus"]
