"""The bundle being published from this thread, parsed once.

A publish parses its body once (strictly, ``vigil.stix.strictjson``); the steps that
follow in the same thread — validation, the share transaction's hooks (the TAXII object
index, the ledger's object count) — take the parsed bundle from here instead of parsing
the payload again. An entry holds for the payload's exact bytes (and, for a sealed share,
its share id, whose stored payload is the ciphertext); ``forget`` ends it.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson


class _Last(threading.local):
    payload: bytes | None = None
    bundle: dict[str, Any] | None = None
    share: str | None = None


_last = _Last()


def remember(payload: bytes, bundle: dict[str, Any], share: str | None = None) -> None:
    """``bundle`` is ``payload`` parsed (and, with ``share``, the plaintext of that share)."""
    _last.payload, _last.bundle, _last.share = payload, bundle, share


def forget() -> None:
    _last.payload = _last.bundle = _last.share = None


def bundle_of(payload: bytes) -> dict[str, Any] | None:
    """The remembered bundle of exactly these bytes, if any."""
    held = _last.payload
    if held is not None and (held is payload or held == payload):
        return _last.bundle
    return None


def of_share(share_id: str) -> dict[str, Any] | None:
    """The remembered plaintext bundle of a share being stored from this thread."""
    return _last.bundle if _last.share is not None and _last.share == share_id else None


def objects_of(payload: bytes) -> list[Any]:
    """The objects of a bundle: remembered, else parsed."""
    bundle = bundle_of(payload)
    if bundle is None:
        doc = orjson.loads(payload)
        bundle = doc if isinstance(doc, dict) else {}
    objects = bundle.get("objects")
    return objects if isinstance(objects, list) else []
