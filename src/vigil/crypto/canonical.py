"""RFC 8785 (JCS) canonical JSON: the exact bytes every signature covers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
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


_MAX_INT = 2**53 - 1


def _simple(obj: Any) -> bool:
    """Only dict (ASCII str keys), list, tuple, str, int within +-(2**53 - 1), bool
    and None. (A loop over a stack, not a recursion of generators: every signature
    made or checked walks its object once.)"""
    stack = [obj]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        o = pop()
        t = type(o)
        if t is str or o is None or t is bool:
            continue
        if t is int:
            if not -_MAX_INT <= o <= _MAX_INT:
                return False
        elif t is dict:
            for k, v in o.items():
                if type(k) is not str or not k.isascii():
                    return False
                if type(v) is not str:
                    push(v)
        elif t is list or t is tuple:
            extend(o)
        else:
            return False
    return True


def canonical(obj: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    ``obj`` is built from dict (or any Mapping) with str keys, list/tuple, str, int,
    float, bool and None. Integers must lie within +-(2**53 - 1), floats must be
    finite, strings must not hold lone surrogates; anything else raises
    ``CryptoError(code="crypto.not_canonical")``.
    """
    if _simple(obj):
        # No floats, ASCII keys only: RFC 8785 then orders keys by byte and escapes
        # strings exactly as orjson does (tests/crypto check the two agree on random
        # values); rfc8785 handles everything else.
        try:
            return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        except (orjson.JSONEncodeError, TypeError):
            pass  # e.g. a lone surrogate: let rfc8785 say why
    try:
        return rfc8785.dumps(_plain(obj))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise CryptoError(f"value cannot be canonicalised: {e}", code="crypto.not_canonical") from e
