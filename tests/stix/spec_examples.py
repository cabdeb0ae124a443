"""Real STIX 2.1 examples, one per object type, for the tests of the spec tables
(``vigil.stix.spec_sdo``, ``spec_sco``, ``spec_meta``).

An example is the first object of its type that the validator passes, read from the OASIS
examples and the ATT&CK sample in ``tests/data/stix`` first and from ``seeds.json`` (written
for vigil, each one judged valid by stix2-validator, ``oracle-mutations.json``) for the
types no real file holds."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from vigil.stix.spec_sdo import _Spec
from vigil.stix.validate import check_object

from .corpus import load_mutation_oracle, load_seeds

DATA = Path(__file__).resolve().parents[1] / "data" / "stix"

# a value of another JSON type than the one an example holds
_WRONG: dict[type, Any] = {str: 12345, list: "x", int: "x", bool: "x", dict: "x", float: "x"}


def _objects(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text("utf-8"))
    if isinstance(doc, dict):
        return list(doc["objects"]) if "objects" in doc else [doc]
    return [o for o in doc if isinstance(o, dict)]


def _files() -> list[Path]:
    real = [p for p in sorted((DATA / "oasis").glob("*.json")) if "invalid" not in p.name.lower()]
    return [*real, DATA / "attack-ics-18.1-sample.json", DATA / "seeds.json"]


def examples() -> dict[str, tuple[str, dict[str, Any]]]:
    """type -> (file name, object): the first valid object of each type."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for path in _files():
        for obj in _objects(path):
            kind = obj.get("type")
            if isinstance(kind, str) and kind not in out and not check_object(obj):
                out[kind] = (path.name, obj)
    return out


EXAMPLES = examples()


def table_problems(spec: _Spec) -> list[str]:
    """How the spec entry of one type disagrees with that type's real example: a property
    the example uses that the table does not know, a required property whose absence the
    validator does not refuse, a property whose wrongly typed value it does not refuse."""
    source, obj = EXAMPLES[spec.type]
    out = []
    for name in spec.required:
        if name not in obj:
            out.append(f"{source}: required {name} is not in the example")
            continue
        dropped = copy.deepcopy(obj)
        del dropped[name]
        if not any(p.pointer == f"/{name}" for p in check_object(dropped)):
            out.append(f"{source}: {spec.type} without {name} passes")
    for name, value in obj.items():
        if name in ("type", "id") or name.startswith("x_"):
            continue  # identity of the object; custom properties follow no table
        if name not in spec.props:
            out.append(f"{source}: {spec.type}.{name} is not in the table")
            continue
        wrong = copy.deepcopy(obj)
        wrong[name] = _WRONG[type(value)]
        if not any(p.pointer.startswith(f"/{name}") for p in check_object(wrong)):
            out.append(f"{source}: {spec.type}.{name} = {wrong[name]!r} passes")
    return out


# Required by STIX 2.1 (section 7.3) but not checked by stix2-validator, the oracle.
_BEYOND_ORACLE = {("extension-definition", "created_by_ref")}
_COMMON_REQUIRED = {"created", "modified", "spec_version"}  # added to every SDO by validate


def _dropped_verdicts() -> dict[str, dict[str, tuple[bool, str]]]:
    """type -> property -> stix2-validator's verdict on a seed of that type without it."""
    out: dict[str, dict[str, tuple[bool, str]]] = {}
    for name, (_digest, valid, why) in load_mutation_oracle().items():
        _seed, kind, path, mutation = name.split(":", 3)
        if mutation == "drop" and "/" not in path:
            out.setdefault(kind, {})[path] = (valid, why)
    return out


DROPPED = _dropped_verdicts()


def required_problems(spec: _Spec) -> list[str]:
    """How the required properties of one spec entry disagree with stix2-validator's
    verdicts on the seed objects without one property each."""
    verdicts = DROPPED.get(spec.type, {})
    seeds = {s["type"]: s for s in reversed(load_seeds())}
    out = []
    for name in spec.required:
        if (spec.type, name) in _BEYOND_ORACLE:
            continue
        valid, _why = verdicts.get(name, (True, ""))
        if valid:
            out.append(f"{spec.type}.{name}: the oracle passes the object without it")
    for name, (valid, why) in verdicts.items():
        if valid or "is a required property" not in why or name in _COMMON_REQUIRED:
            continue
        if name in spec.required:
            continue
        dropped = copy.deepcopy(seeds[spec.type])
        del dropped[name]
        if not check_object(dropped):  # not required by the table, nor by one of its rules
            out.append(f"{spec.type}.{name}: required by the oracle, not by the table")
    return out
