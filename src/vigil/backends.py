"""Backends picked by URL scheme through a dict of lazy imports, so that an extra
(`vigil[postgres]`, `vigil[nats]`) is imported only when its scheme is chosen."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from vigil.errors import ConfigError


def load_backend(registry: Mapping[str, str], url: str, what: str) -> Any:
    """The class registered for the scheme of `url` ("module:Class"), instantiated with
    the URL."""
    scheme = url.split(":", 1)[0]
    target = registry.get(scheme)
    if target is None:
        raise ConfigError(f"unknown {what} URL scheme {scheme!r}; known: "
                          f"{', '.join(sorted(registry))}", code=f"config.{what}_url")
    module, _, name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ConfigError(
            f"the {scheme} {what} needs an extra: pip install 'vigil[{scheme}]' ({exc})",
            code="config.missing_extra",
        ) from exc
    return cls(url)
