"""Observed-data with its deprecated embedded ``objects``, and marking definitions
(statement, TLP 1.0, TLP 2.0 / extension-based) as data, for ``vigil.stix.validate``."""

from __future__ import annotations

import re
from typing import Any

from vigil.stix._formats import (
    EXTENSION_DEFINITION_KEY_RE,
    IDENTIFIER_RE,
    show,
)
from vigil.stix.checks import Err, _Ctx, _sub, _v, c_any, c_int, c_list, c_ref, c_ts
from vigil.stix.shapes import (
    _extension_definition_content,
    c_external_reference,
    c_granular_marking,
)
from vigil.stix.spec_sdo import (
    _S,
    META_TYPES,
    SDO_TYPES,
    _exactly_one,
    _order,
    _sdo,
    _selectors_resolve,
    _Spec,
    c_object_marking_refs,
)

# --- observed-data, with the deprecated embedded ``objects`` ----------------------------


def c_observed_ref(v: Any) -> Err | None:
    if not isinstance(v, str) or (m := IDENTIFIER_RE.match(v)) is None:
        return ("stix.reference", "", f"{show(v)} is not an identifier")
    if m.group(1) in _NOT_OBSERVABLE:
        return ("stix.reference", "", f"{show(v)}: observed-data refers to SCOs and SROs only")
    return None


_NOT_OBSERVABLE = frozenset((*SDO_TYPES, *META_TYPES, "bundle"))


def c_observed_objects(v: Any) -> Err | None:
    if not isinstance(v, dict):
        return _v(f"{show(v)} is not a dictionary of observable objects")
    if not v:
        return _v("empty dictionaries are not allowed")
    return None


def _observed_objects_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    from vigil.stix.validate import _check_object  # embedded objects, checked in full

    objects = obj.get("objects")
    if not isinstance(objects, dict):
        return
    for key, sco in objects.items():
        p = f"{ptr}/objects{_sub(key)}"
        if not isinstance(sco, dict) or "type" not in sco:
            ctx.add("stix.object", p, "an observable object needs a type")
            continue
        _check_object(ctx, sco, p, embedded=objects)


META_SPECS: list[_Spec] = []
META_SPECS.append(
    _sdo(
        "observed-data",
        {
            "first_observed": c_ts,
            "last_observed": c_ts,
            "number_observed": c_int(1, 999_999_999),
            "objects": c_observed_objects,
            "object_refs": c_list(c_observed_ref),
        },
        ["first_observed", "last_observed", "number_observed"],
        [
            _exactly_one("objects", "object_refs"),
            _order("last_observed", ">=", "first_observed"),
            _observed_objects_rule,
        ],
    )
)


# --- marking definitions ---------------------------------------------------------------

_TLP1 = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": ("TLP:WHITE", "white"),
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": ("TLP:GREEN", "green"),
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": ("TLP:AMBER", "amber"),
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": ("TLP:RED", "red"),
}
_TLP1_KEYS = frozenset(
    ("type", "id", "spec_version", "name", "created", "definition", "definition_type")
)
_NOT_OTHER_DEFINITION_TYPE_RE = re.compile(r"^(statement)|(tlp)\Z")


def _is_tlp1(obj: dict[str, Any]) -> bool:
    oid = obj.get("id")
    expected = _TLP1.get(oid) if isinstance(oid, str) else None
    d = obj.get("definition")
    return (
        expected is not None
        and obj.keys() == _TLP1_KEYS
        and obj.get("spec_version") == "2.1"
        and obj.get("created") == "2017-01-20T00:00:00.000Z"
        and obj.get("definition_type") == "tlp"
        and obj.get("name") == expected[0]
        and isinstance(d, dict)
        and ("tlp" not in d or d["tlp"] == expected[1])
    )


def _marking_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    if _is_tlp1(obj):
        return
    dt, d = obj.get("definition_type"), obj.get("definition")
    if "extensions" not in obj:
        for k in ("definition_type", "definition"):
            if k not in obj:
                ctx.add(
                    "stix.required",
                    f"{ptr}/{k}",
                    f"{k} is required (or define the marking through an extension)",
                )
                return
    if dt == "statement":
        if not (isinstance(d, dict) and isinstance(d.get("statement"), str)):
            ctx.add(
                "stix.marking",
                ptr + "/definition",
                'a statement marking needs definition: {"statement": "..."}',
            )
        return
    if "definition_type" in obj and (
        not isinstance(dt, str) or _NOT_OTHER_DEFINITION_TYPE_RE.search(dt)
    ):
        why = (
            "is not one of the four STIX 2.1 TLP marking definitions (use them verbatim)"
            if isinstance(dt, str) and dt.endswith("tlp")
            else "is not a definition type"
        )
        ctx.add(
            "stix.marking",
            ptr + ("/definition_type" if not isinstance(dt, str) or not dt.endswith("tlp") else ""),
            f"marking definition {why}",
        )
        return
    if "definition" in obj and not isinstance(d, dict):
        ctx.add("stix.value", ptr + "/definition", f"{show(d)} is not an object")


def _self_marking_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    refs = obj.get("object_marking_refs")
    if isinstance(refs, list) and obj.get("id") in refs:
        ctx.add(
            "stix.marking", ptr + "/object_marking_refs", "a marking definition may not mark itself"
        )


def c_marking_extensions(v: Any) -> Err | None:
    if not isinstance(v, dict):
        return ("stix.extension", "", f"{show(v)} is not an extensions dictionary")
    if not v:
        return ("stix.extension", "", "empty extensions dictionary")
    for k, ext in v.items():
        if EXTENSION_DEFINITION_KEY_RE.match(k) is None:
            return (
                "stix.extension",
                _sub(k),
                f"{show(k)}: a marking definition takes extension-definition extensions only",
            )
        e = _extension_definition_content(ext)
        if e is not None:
            return (e[0], _sub(k) + e[1], e[2])
    return None


META_SPECS.append(
    _Spec(
        type="marking-definition",
        kind="marking",
        props={
            "spec_version": c_any,
            "name": _S,
            "created_by_ref": c_ref(("identity",)),
            "created": c_ts,
            "external_references": c_list(c_external_reference),
            "object_marking_refs": c_object_marking_refs,
            "granular_markings": c_list(c_granular_marking),
            "extensions": c_marking_extensions,
            "definition_type": c_any,
            "definition": c_any,
        },
        required=("created",),
        rules=(
            _marking_rule,
            _order("modified", ">=", "created"),
            _self_marking_rule,
            _selectors_resolve,
        ),
        generic=False,
    )
)

