"""A bundle written from objects the validator passed (``ObjectChecker.bundle``) is
taken by the publish path without being parsed or validated again: only objects the
checker passed make one, its bytes read back as the same bundle, and it cannot be
made any other way."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest

from vigil.stix import strictjson
from vigil.stix.validate import ObjectChecker, ValidBundle, validate_bundle

TS = "2026-11-29T08:00:00.000Z"


def _indicator(i: int, **more: Any) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1", "id": f"indicator--{uuid.uuid4()}",
            "created": TS, "modified": TS, "pattern_type": "stix", "valid_from": TS,
            "pattern": f"[domain-name:value = 'h{i}.example']", **more}


def test_bundle_of_passed_objects() -> None:
    checker = ObjectChecker()
    objects = [_indicator(i) for i in range(3)]
    assert all(checker.check(o) == [] for o in objects)
    valid = checker.bundle(objects)
    assert valid is not None and valid.objects == 3
    assert strictjson.loads(valid.raw) == valid.bundle  # the bytes are the bundle
    assert validate_bundle(valid.bundle).objects == 3


def test_objects_not_passed_are_checked_now() -> None:
    checker = ObjectChecker()
    good = _indicator(1)
    assert checker.check(good) == []
    changed = {**good, "pattern": "[not a pattern"}  # a changed copy: a new object
    assert checker.bundle([good, changed]) is None
    assert checker.bundle([good, _indicator(2, created="yesterday")]) is None
    assert checker.bundle([]) is None
    fresh = checker.bundle([_indicator(3)])  # valid, never checked before: checked now
    assert fresh is not None


@pytest.mark.parametrize("value", [2**53 + 1, -(2**53) - 1, math.nan, math.inf,
                                   {"a": {"b": 1}}, (1, 2)])
def test_values_json_would_not_give_back_refuse_the_shortcut(value: Any) -> None:
    """Values the strict parser refuses (or ``dumps`` rewrites): no valid bundle; the
    bytes are then parsed and validated as any posted ones."""
    checker = ObjectChecker()
    obj = _indicator(1, x_deep=value)
    if isinstance(value, dict):  # nested deeper than the parser reads
        inner: dict[str, Any] = value
        for _ in range(70):
            inner = {"x": inner}
        obj["x_deep"] = inner
    assert checker.bundle([obj]) is None


def test_portable() -> None:
    assert strictjson.portable({"a": [1, 2.5, "s", None, True, {"b": []}]})
    assert not strictjson.portable({"a": [float("nan")]})
    assert not strictjson.portable({1: "a"})
    assert not strictjson.portable([2**60])
    assert strictjson.portable(2**53) and not strictjson.portable(2**53 + 1)
    deep: Any = "x"
    for _ in range(64):
        deep = [deep]
    assert strictjson.portable(deep) and not strictjson.portable([deep])


def test_made_only_by_the_checker() -> None:
    with pytest.raises(TypeError):
        ValidBundle(b"{}", {}, object())
