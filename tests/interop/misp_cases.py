"""What the MISP conversion tests share: the real PyMISP test events, MISP attributes,
objects and events built by hand, and the conversion done both ways (misp-stix's and the
direct path's) to compare."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from vigil.interop.misp import to_stix
from vigil.interop.misp_fast import fast_attribute
from vigil.interop.misp_objects import fast_object

DATA = Path(__file__).resolve().parents[1] / "data" / "misp"


EVENTS = ["57c4445b-c548-4654-af0b-4be3950d210f.json", "existing_event.json",
          "japanese_test.json", "attributes/long_event.json", "mainly_objects_1.json",
          "sighting_1.json", "attributes/to_delete2.json"]


ORG = {"name": "CIRCL", "uuid": "55f6ea5e-2c60-40e5-964f-47a8950d210f"}


def _clock_free(objects: list[dict[str, Any]], since: str) -> list[dict[str, Any]]:
    """The objects with the times misp-stix takes from the clock masked."""
    out = []
    for obj in objects:
        obj = dict(obj)
        for key in ("created", "modified"):
            if isinstance(obj.get(key), str) and obj[key] >= since:
                obj[key] = "<clock>"
        out.append(obj)
    return out


def _both(event: dict[str, Any], monkeypatch: pytest.MonkeyPatch
          ) -> tuple[tuple[Any, Any], tuple[Any, Any], int]:
    """misp-stix's conversion, the fast path's, and how many attributes took the
    fast path."""
    since = (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    slow = to_stix(copy.deepcopy(event), fast=False)
    taken = []
    def counted(parser: Any, attribute: dict[str, Any]) -> Any:
        out = fast_attribute(parser, attribute)
        taken.append(out is not None)
        return out

    with monkeypatch.context() as m:
        m.setattr("vigil.interop.misp_parser.fast_attribute", counted)
        fast = to_stix(copy.deepcopy(event), fast=True)

    def norm(res: Any) -> tuple[Any, Any]:
        objects, losses = res
        return (_clock_free(objects, since),
                [(x.pointer, x.stix_id, x.code, x.reason) for x in losses])

    return norm(slow), norm(fast), sum(taken)


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    taken: list[tuple[str, bool]] = []

    def counted(parser: Any, obj: Any) -> Any:
        out = fast_object(parser, obj)
        taken.append((str(obj.get("name")), out is not None))
        return out

    monkeypatch.setattr("vigil.interop.misp_parser.fast_object", counted)
    return taken


def _a(uid: int, relation: str, kind: str, value: Any, to_ids: bool = True,
       category: str = "Network activity", **more: Any) -> dict[str, Any]:
    return {"uuid": f"6a0d5cac-2ef4-4bae-baa4-{uid:012x}", "object_relation": relation,
            "type": kind, "value": value, "category": category, "to_ids": to_ids,
            "timestamp": "1510922092", **more}


def _o(uid: int, name: str, meta: str, attributes: list[dict[str, Any]],
       **more: Any) -> dict[str, Any]:
    return {"uuid": f"6b0d5cac-2ef4-4bae-baa4-{uid:012x}", "name": name,
            "meta-category": meta, "timestamp": str(1510922000 + uid),
            "distribution": "5", "Attribute": attributes, **more}


MD5 = "d41d8cd98f00b204e9800998ecf8427e"


SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"


SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


P = "Payload delivery"


def _event(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Event": {"uuid": "5a0d5bf4-99c8-4f15-9879-22b1950d210f", "info": "objects",
                      "timestamp": "1511183733", "date": "2017-11-14", "Orgc": ORG,
                      "analysis": "2", "threat_level_id": "3", "published": False,
                      "Attribute": [{"uuid": "5a0d5cac-2ef4-4bae-baa4-000000000000",
                                     "type": "ip-dst", "value": "198.51.100.99",
                                     "category": "Network activity", "to_ids": True,
                                     "timestamp": "1510922092"}],
                      "Object": objects}}


def _attr(i: int, kind: str, value: Any, category: str, to_ids: bool = True,
          **more: Any) -> dict[str, Any]:
    return {"uuid": f"5a0d5cac-2ef4-4bae-baa4-{i:012x}", "type": kind, "value": value,
            "category": category, "to_ids": to_ids, "timestamp": str(1510922092 + i),
            "comment": more.pop("comment", f"comment {i}"), **more}


def _attributes_event(cases: list[tuple[str, Any, str, dict[str, Any]]],
                      **more: Any) -> dict[str, Any]:
    attrs = [_attr(i, kind, value, category, **dict(extra))
             for i, (kind, value, category, extra) in enumerate(cases)]
    attrs.append({k: v for k, v in _attr(99, "ip-dst", "198.51.100.16",
                                          "Network activity").items() if k != "to_ids"})
    return {"Event": {"uuid": "5a0d5bf4-99c8-4f15-9879-22b1950d210f", "info": "types",
                      "timestamp": "1511183733", "date": "2017-11-14", "Orgc": ORG,
                      "analysis": "2", "threat_level_id": "3", "published": False,
                      "Attribute": attrs, **more}}
