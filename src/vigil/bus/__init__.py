"""Buses, picked by URL scheme through lazy imports."""

from __future__ import annotations

from vigil.backends import load_backend
from vigil.bus.base import Bus, LocalHub, Subscription

_BACKENDS: dict[str, str] = {
    "local": "vigil.bus.local:LocalBus",
    "memory": "vigil.bus.local:LocalBus",
    "nats": "vigil.bus.jetstream:JetStreamBus",
}


def open_bus(url: str) -> Bus:
    """The bus named by a URL: local:// (in-process) or nats://HOST:PORT[?prefix=…]."""
    bus: Bus = load_backend(_BACKENDS, url, "bus")
    return bus


__all__ = ["Bus", "LocalHub", "Subscription", "open_bus"]
