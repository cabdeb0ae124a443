"""STIX 2.1 objects for tests: valid by default, each field replaceable by keyword."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

TS = "2026-11-29T08:00:00.000Z"


def sid(kind: str) -> str:
    """A new STIX id of ``kind``."""
    return f"{kind}--{uuid.uuid4()}"


def pattern_of(value: str) -> str:
    """The STIX pattern of one IPv4 address, or of a domain name when ``value`` holds a
    letter."""
    kind = "domain-name" if any(c.isalpha() for c in value) else "ipv4-addr"
    return f"[{kind}:value = '{value}']"


def indicator(value: str = "198.51.100.7", *, at: str = TS, **fields: Any) -> dict[str, Any]:
    """An indicator of ``value`` (see ``pattern_of``) created and modified ``at``; ``fields``
    add or replace any field (``pattern=``, ``id=``, ``name=``, …)."""
    obj: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1", "id": sid("indicator"), "created": at,
        "modified": at, "pattern": pattern_of(value), "pattern_type": "stix", "valid_from": at}
    obj.update(fields)
    return obj


def malware(name: str = "probe", *, at: str = TS, **fields: Any) -> dict[str, Any]:
    """A malware family named ``name``."""
    obj: dict[str, Any] = {"type": "malware", "spec_version": "2.1", "id": sid("malware"),
                           "created": at, "modified": at, "name": name, "is_family": True}
    obj.update(fields)
    return obj


def bundle_doc(*objects: dict[str, Any], id: str | None = None) -> dict[str, Any]:
    """A bundle of ``objects`` as a JSON object."""
    return {"type": "bundle", "id": id or sid("bundle"), "objects": list(objects)}


def bundle(*objects: dict[str, Any]) -> bytes:
    """A bundle of ``objects``, serialised."""
    return orjson.dumps(bundle_doc(*objects))


def ioc_bundle(*values: str, **fields: Any) -> bytes:
    """A bundle of one indicator per value (``fields`` go into each)."""
    return bundle(*(indicator(v, **fields) for v in values))


def canary_bundle(canary: str, n: int = 3) -> bytes:
    """``n`` indicators whose name and description carry ``canary``, a string a test then
    looks for where it must not be (a database file, a log, another member's answer)."""
    return bundle(*(indicator(f"198.51.100.{i + 1}", name=f"{canary} #{i}",
                              description=f"secret note {canary}",
                              indicator_types=["malicious-activity"]) for i in range(n)))
