"""RFC 8785 (JCS) canonical JSON: the exact bytes every signature covers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rfc8785

from vigil.errors import CryptoError


def _plain(obj: Any) -> Any:
    """Turn read-only mappings (e.g. ``MappingProxyType``) into dicts, recursively."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, Mapping):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def canonical(obj: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    ``obj`` is built from dict (or any Mapping) with str keys, list/tuple, str, int,
    float, bool and None. Integers must lie within +-(2**53 - 1), floats must be
    finite, strings must not hold lone surrogates; anything else raises
    ``CryptoError(code="crypto.not_canonical")``.
    """
    try:
        return rfc8785.dumps(_plain(obj))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise CryptoError(f"value cannot be canonicalised: {e}", code="crypto.not_canonical") from e
