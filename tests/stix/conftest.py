from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import pytest

TS = "2026-11-29T08:00:00.000Z"
IDENTITY = "identity--8c6af861-7b20-41ef-9b59-6344fd872a8f"
TLP_AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"


def make_indicator(i: int) -> dict[str, Any]:
    """Indicators as vigil.interop.iocs makes them: ip, domain, url, SHA-256, MD5."""
    k = i % 5
    if k == 0:
        pattern = f"[ipv4-addr:value = '198.51.{i // 250}.{i % 250}']"
    elif k == 1:
        pattern = f"[domain-name:value = 'host{i}.bad.example']"
    elif k == 2:
        pattern = f"[url:value = 'http://host{i}.bad.example/it\\'s?q={i}']"
    elif k == 3:
        pattern = f"[file:hashes.'SHA-256' = '{hashlib.sha256(str(i).encode()).hexdigest()}']"
    else:
        pattern = f"[file:hashes.'MD5' = '{hashlib.md5(str(i).encode()).hexdigest()}']"
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, str(i))}",
        "created": TS,
        "modified": TS,
        "name": f"bad thing {i}",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": TS,
        "confidence": 80,
        "labels": ["emotet"],
        "created_by_ref": IDENTITY,
        "object_marking_refs": [TLP_AMBER],
    }


def make_bundle(n: int) -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid5(uuid.NAMESPACE_URL, 'bench')}",
        "objects": [make_indicator(i) for i in range(n)],
    }


@pytest.fixture(scope="session")
def indicator_bundle() -> dict[str, Any]:
    return make_bundle(1000)


@pytest.fixture(scope="session")
def indicator_bundle_bytes(indicator_bundle: dict[str, Any]) -> bytes:
    return json.dumps(indicator_bundle, indent=2).encode()
