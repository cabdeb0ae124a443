"""Small builders shared by the analysis tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import orjson

from vigil.exchange import Exchange, Published
from vigil.model import Actor, Tlp


def indicator(pattern: str) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": "2026-11-29T08:00:00.000Z", "modified": "2026-11-29T08:00:00.000Z",
            "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-11-29T08:00:00Z"}


def bundle(objects: Iterable[dict[str, Any]]) -> bytes:
    return orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                         "objects": list(objects)})


def ip_bundle(*values: str) -> bytes:
    return bundle(indicator(f"[ipv4-addr:value = '{v}']") for v in values)


def publish(ex: Exchange, member: str, raw: bytes, *, tlp: Tlp = Tlp.GREEN,
            to: tuple[str, ...] = (), no_onward: bool = False,
            expires: str | None = None) -> Published:
    req = ex.make_request(member, tlp=tlp, to=to, no_onward=no_onward, expires=expires)
    return ex.publish_bundle(Actor(member=member, user=None), raw, req)
