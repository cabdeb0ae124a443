"""The objects of a POSTed TAXII envelope, parsed strictly; an envelope that holds
nothing but its objects is kept as the bytes of a STIX bundle, so that they are
published exactly as sent."""

from __future__ import annotations

import uuid
from typing import Any

from vigil.errors import InputError
from vigil.stix import strictjson


class PostedObjects(list[Any]):
    """The objects of a POSTed envelope; ``bundle`` is the envelope's own bytes made a
    STIX bundle when it holds nothing but its objects, so they are published (parsed
    strictly, signed, stored) exactly as sent."""

    bundle: bytes | None = None
    bundle_id = ""


def posted_objects(raw: bytes, max_bytes: int) -> PostedObjects:
    # strict whatever the envelope holds: a duplicate key, NaN or an integer beyond 2^53
    # is refused with `more`/`next` present exactly as without them
    doc = strictjson.loads(raw, max_bytes=max_bytes)
    out = PostedObjects(check_objects(doc))
    body = raw.strip()
    if isinstance(doc, dict) and doc.keys() == {"objects"} and body.startswith(b"{"):
        out.bundle_id = f"bundle--{uuid.uuid4()}"
        out.bundle = b'{"type":"bundle","id":"' + out.bundle_id.encode() + b'",' + body[1:]
    return out


def check_objects(doc: Any) -> list[Any]:
    """The objects of a POSTed TAXII envelope."""
    if not isinstance(doc, dict):
        raise InputError("the body must be a TAXII envelope (a JSON object)",
                         code="taxii.bad_envelope", pointer="")
    objects = doc.get("objects")
    if not isinstance(objects, list) or not objects:
        raise InputError("the envelope must hold a non-empty objects list",
                         code="taxii.bad_envelope", pointer="/objects")
    return objects
