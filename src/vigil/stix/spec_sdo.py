"""The STIX 2.1 domain and relationship objects (and language contents, extension
definitions) as data: each type's properties with their checks, required properties and
rules (``_Spec``), for ``vigil.stix.validate``."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from vigil.params import decimal
from vigil.stix import _patterns
from vigil.stix._formats import (
    IDENTIFIER_RE,
    is_language_tag,
    show,
    timestamp_cmp,
    timestamp_fraction,
    uuid_version,
)
from vigil.stix.checks import (
    Check,
    Err,
    _Ctx,
    _sub,
    _v,
    c_any,
    c_bool,
    c_enum,
    c_forbidden,
    c_int,
    c_list,
    c_num,
    c_ref,
    c_refs,
    c_regex,
    c_str,
    c_strs,
    c_ts,
    c_ts_ms,
)
from vigil.stix.shapes import (
    c_dictionary,
    c_extension_type,
    c_extensions_core,
    c_external_reference,
    c_granular_marking,
    c_kill_chain_phase,
)

# --- the object types -------------------------------------------------------------

Rule = Callable[[_Ctx, dict[str, Any], str], None]


@dataclass(frozen=True, slots=True)
class _Spec:
    type: str
    kind: str  # sdo, sro, sco, marking, meta, custom
    props: Mapping[str, Check]
    required: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    generic: bool = True  # unknown properties follow custom_property()
    needs_spec_version: bool = True


_RESERVED = {
    k: c_forbidden(f"{k!r} is a reserved property name")
    for k in ("severity", "action", "username", "phone_numbers")
}

c_object_marking_refs = c_refs(("marking-definition",))


def c_lang(v: Any) -> Err | None:
    if not isinstance(v, str):
        return _v(f"{show(v)} is not a string")
    if not is_language_tag(v):
        return _v(f"{show(v)} is not an RFC 5646 language tag")
    return None


SDO_COMMON: dict[str, Check] = {
    "spec_version": c_any,  # checked in _check_object
    "created_by_ref": c_ref(("identity",)),
    "labels": c_strs,
    "created": c_ts_ms,
    "modified": c_ts_ms,
    "revoked": c_bool,
    "confidence": c_int(0, 100),
    "lang": c_lang,
    "external_references": c_list(c_external_reference),
    "object_marking_refs": c_object_marking_refs,
    "granular_markings": c_list(c_granular_marking),
    "extensions": c_extensions_core,
    **_RESERVED,
}


SCO_COMMON: dict[str, Check] = {
    "spec_version": c_any,
    "object_marking_refs": c_object_marking_refs,
    "granular_markings": c_list(c_granular_marking),
    "defanged": c_bool,
    "extensions": c_extensions_core,
    **_RESERVED,
}

SDO_TYPES = (
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
)
SRO_TYPES = ("relationship", "sighting")
SCO_TYPES = (
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
)
META_TYPES = ("marking-definition", "language-content", "extension-definition")

_NOT_RELATABLE = ("relationship", "sighting", "bundle", "marking-definition", "language-content")


def _order(first: str, op: str, second: str) -> Rule:
    """``first op second`` for two timestamp properties (op: ``>=`` or ``>``)."""
    strict = op == ">"

    def rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
        a, b = obj.get(first), obj.get(second)
        if not strict and a == b:
            return  # equal (modified = created, mostly): in order, or reported as bad
        if a is None or b is None or timestamp_fraction(a) < 0 or timestamp_fraction(b) < 0:
            return  # absent, or already reported as a bad timestamp
        c = timestamp_cmp(a, b)
        if c < 0 or (strict and c == 0):
            ctx.add(
                "stix.timestamp_order",
                ptr + "/" + first,
                f"{first} ({a}) must be {'later than' if strict else 'at or after'} {second} ({b})",
            )

    return rule


def _require_any(*names: str) -> Rule:
    def rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
        if not any(n in obj for n in names):
            ctx.add("stix.required", ptr, "at least one of " + ", ".join(names) + " is required")

    return rule


def _exactly_one(*names: str) -> Rule:
    def rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
        if sum(n in obj for n in names) != 1:
            ctx.add("stix.required", ptr, "exactly one of " + ", ".join(names) + " is required")

    return rule


def _selectors_resolve(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    """Granular marking selectors must point at something present in the object."""
    gm = obj.get("granular_markings")
    if not isinstance(gm, list):
        return
    for i, marking in enumerate(gm):
        if not isinstance(marking, dict):
            continue
        selectors = marking.get("selectors")
        if not isinstance(selectors, list):
            continue
        for j, selector in enumerate(selectors):
            if not isinstance(selector, str):
                continue
            node: Any = obj
            for seg in selector.split("."):
                if seg.startswith("[") and seg.endswith("]") \
                        and (idx := decimal(seg[1:-1])) is not None:
                    if isinstance(node, list) and idx < len(node):
                        node = node[idx]
                        continue
                elif isinstance(node, dict) and seg in node:
                    node = node[seg]
                    continue
                ctx.add(
                    "stix.marking",
                    f"{ptr}/granular_markings/{i}/selectors/{j}",
                    f"selector {show(selector)} does not select anything in this object",
                )
                break
            if obj.get("type") == "marking-definition" and marking.get("marking_ref") == obj.get(
                "id"
            ):
                ctx.add(
                    "stix.marking",
                    f"{ptr}/granular_markings/{i}/marking_ref",
                    "a marking definition may not mark itself",
                )


@functools.cache
def _sco_property_names() -> dict[str, frozenset[str]]:
    from vigil.stix.validate import SCO_PROPERTY_NAMES  # made from every spec

    return SCO_PROPERTY_NAMES


def _pattern_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    pattern = obj.get("pattern")
    if obj.get("pattern_type") != "stix" or not isinstance(pattern, str):
        return
    too_large = _patterns.size_error(pattern)
    if too_large is not None:
        ctx.add("stix.pattern_too_large", ptr + "/pattern", too_large)
        return
    version = obj.get("pattern_version", obj.get("spec_version", "2.1"))
    if version == "2.1" and _patterns.fast_valid(pattern, _sco_property_names()):
        ctx.patterns_fast += 1
        return
    ctx.patterns_slow += 1
    ctx.slow_chars += len(pattern)
    if ctx.slow_chars > _patterns.SLOW_PATTERN_BUDGET:
        ctx.add("stix.pattern_too_large", ptr + "/pattern",
                f"the bundle's patterns outside the simple forms are over "
                f"{_patterns.SLOW_PATTERN_BUDGET} characters in all")
        return
    errors = _patterns.slow_errors(pattern, str(version), _sco_property_names())
    if errors:
        msg = errors[0].removeprefix("FAIL: ")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        ctx.add("stix.pattern", ptr + "/pattern", f"invalid STIX pattern: {msg}{more}")


def _location_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    lat, lon = "latitude" in obj, "longitude" in obj
    if lat != lon:
        ctx.add("stix.required", ptr, "latitude and longitude go together")
    elif not (lat or "region" in obj or "country" in obj):
        ctx.add("stix.required", ptr, "one of region, country or latitude+longitude is required")
    if "precision" in obj and not lat:
        ctx.add("stix.required", ptr + "/precision", "precision needs latitude and longitude")


def _malware_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    if obj.get("is_family") is True and "name" not in obj:
        ctx.add("stix.required", ptr + "/name", "a malware family (is_family: true) needs a name")


def _extension_definition_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    types = obj.get("extension_types")
    if "extension_properties" in obj and not (
        isinstance(types, list) and "toplevel-property-extension" in types
    ):
        ctx.add(
            "stix.property",
            ptr + "/extension_properties",
            "extension_properties is only for a toplevel-property-extension",
        )


def _language_content_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    contents = obj.get("contents")
    if not isinstance(contents, dict):
        return
    for lang, value in contents.items():
        if not is_language_tag(lang):
            ctx.add(
                "stix.value",
                f"{ptr}/contents{_sub(lang)}",
                f"{show(lang)} is not an RFC 5646 language tag",
            )
        if not isinstance(value, dict):
            ctx.add(
                "stix.value",
                f"{ptr}/contents{_sub(lang)}",
                "each language maps to a dictionary of translated properties",
            )
        else:
            for k in value:
                if _patterns.PROPERTY_FORMAT_RE.match(k) is None:
                    ctx.add(
                        "stix.property",
                        f"{ptr}/contents{_sub(lang)}{_sub(k)}",
                        f"{show(k)} is not a property name",
                    )


def _uuid4_unless(*contributing: str) -> Rule:
    """SCOs whose id has no contributing properties present must use UUIDv4."""

    def rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
        oid = obj.get("id")
        if not isinstance(oid, str) or IDENTIFIER_RE.match(oid) is None:
            return
        if (not contributing or not any(k in obj for k in contributing)) and uuid_version(oid) != 4:
            why = "a process" if not contributing else "without ID contributing properties, it"
            ctx.add("stix.id", ptr + "/id", f"{why} must use a UUIDv4 identifier")

    return rule


def _sdo(
    name: str,
    props: Mapping[str, Check],
    required: Iterable[str] = (),
    rules: Iterable[Rule] = (),
    kind: str = "sdo",
) -> _Spec:
    return _Spec(
        type=name,
        kind=kind,
        props={**SDO_COMMON, **props},
        required=tuple(required),
        rules=(_order("modified", ">=", "created"), *rules, _selectors_resolve),
    )


def _sco(
    name: str, props: Mapping[str, Check], required: Iterable[str] = (), rules: Iterable[Rule] = ()
) -> _Spec:
    return _Spec(
        type=name,
        kind="sco",
        props={**SCO_COMMON, **props},
        required=tuple(required),
        rules=(*rules, _selectors_resolve),
        needs_spec_version=False,
    )


_KCP = c_list(c_kill_chain_phase)
_S = c_str
_ANY_OBJECT_REFS = c_refs()
_SOFTWARE_REF = c_ref(("software",))

SDO_SPECS: list[_Spec] = [
    _sdo(
        "attack-pattern",
        {"name": _S, "description": _S, "aliases": c_strs, "kill_chain_phases": _KCP},
        ["name"],
    ),
    _sdo(
        "campaign",
        {
            "name": _S,
            "description": _S,
            "aliases": c_strs,
            "first_seen": c_ts,
            "last_seen": c_ts,
            "objective": _S,
        },
        ["name"],
        [_order("last_seen", ">=", "first_seen")],
    ),
    _sdo("course-of-action", {"name": _S, "description": _S}, ["name"]),
    _sdo(
        "grouping",
        {"name": _S, "description": _S, "context": _S, "object_refs": _ANY_OBJECT_REFS},
        ["context", "object_refs"],
    ),
    _sdo(
        "identity",
        {
            "name": _S,
            "description": _S,
            "roles": c_strs,
            "identity_class": _S,
            "sectors": c_strs,
            "contact_information": _S,
        },
        ["name"],
    ),
    _sdo("incident", {"name": _S, "description": _S, "kill_chain_phases": _KCP}, ["name"]),
    _sdo(
        "indicator",
        {
            "name": _S,
            "description": _S,
            "indicator_types": c_strs,
            "pattern": _S,
            "pattern_type": _S,
            "pattern_version": _S,
            "valid_from": c_ts,
            "valid_until": c_ts,
            "kill_chain_phases": _KCP,
        },
        ["pattern", "pattern_type", "valid_from"],
        [_order("valid_until", ">", "valid_from"), _pattern_rule],
    ),
    _sdo(
        "infrastructure",
        {
            "name": _S,
            "description": _S,
            "infrastructure_types": c_strs,
            "aliases": c_strs,
            "kill_chain_phases": _KCP,
            "first_seen": c_ts,
            "last_seen": c_ts,
        },
        ["name"],
        [_order("last_seen", ">=", "first_seen")],
    ),
    _sdo(
        "intrusion-set",
        {
            "name": _S,
            "description": _S,
            "aliases": c_strs,
            "first_seen": c_ts,
            "last_seen": c_ts,
            "goals": c_strs,
            "resource_level": _S,
            "primary_motivation": _S,
            "secondary_motivations": c_strs,
        },
        ["name"],
        [_order("last_seen", ">=", "first_seen")],
    ),
    _sdo(
        "location",
        {
            "name": _S,
            "description": _S,
            "latitude": c_num(-90, 90),
            "longitude": c_num(-180, 180),
            "precision": c_num(),
            "region": _S,
            "country": _S,
            "administrative_area": _S,
            "city": _S,
            "street_address": _S,
            "postal_code": _S,
        },
        [],
        [_location_rule],
    ),
    _sdo(
        "malware",
        {
            "name": _S,
            "description": _S,
            "malware_types": c_strs,
            "is_family": c_bool,
            "aliases": c_strs,
            "kill_chain_phases": _KCP,
            "first_seen": c_ts,
            "last_seen": c_ts,
            "operating_system_refs": c_refs(("software",)),
            "architecture_execution_envs": c_strs,
            "implementation_languages": c_strs,
            "capabilities": c_strs,
            "sample_refs": c_refs(("file", "artifact")),
        },
        ["is_family"],
        [_order("last_seen", ">=", "first_seen"), _malware_rule],
    ),
    _sdo(
        "malware-analysis",
        {
            "product": _S,
            "version": _S,
            "host_vm_ref": _SOFTWARE_REF,
            "operating_system_ref": _SOFTWARE_REF,
            "installed_software_refs": c_refs(("software",)),
            "configuration_version": _S,
            "modules": c_strs,
            "analysis_engine_version": _S,
            "analysis_definition_version": _S,
            "submitted": c_ts,
            "analysis_started": c_ts,
            "analysis_ended": c_ts,
            "result_name": _S,
            "result": _S,
            "analysis_sco_refs": c_refs(),
            "sample_ref": c_ref(("file", "artifact", "network-traffic")),
        },
        ["product"],
        [_require_any("result", "analysis_sco_refs")],
    ),
    _sdo(
        "note",
        {"abstract": _S, "content": _S, "authors": c_strs, "object_refs": _ANY_OBJECT_REFS},
        ["content", "object_refs"],
    ),
    # observed-data: see _observed_data_spec below
    _sdo(
        "opinion",
        {
            "explanation": _S,
            "authors": c_strs,
            "opinion": c_enum(
                "strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"
            ),
            "object_refs": _ANY_OBJECT_REFS,
        },
        ["object_refs", "opinion"],
    ),
    _sdo(
        "report",
        {
            "name": _S,
            "description": _S,
            "report_types": c_strs,
            "published": c_ts,
            "object_refs": _ANY_OBJECT_REFS,
        },
        ["name", "object_refs", "published"],
    ),
    _sdo(
        "threat-actor",
        {
            "name": _S,
            "description": _S,
            "threat_actor_types": c_strs,
            "aliases": c_strs,
            "first_seen": c_ts,
            "last_seen": c_ts,
            "roles": c_strs,
            "goals": c_strs,
            "sophistication": _S,
            "resource_level": _S,
            "primary_motivation": _S,
            "secondary_motivations": c_strs,
            "personal_motivations": c_strs,
        },
        ["name"],
        [_order("last_seen", ">=", "first_seen")],
    ),
    _sdo(
        "tool",
        {
            "name": _S,
            "description": _S,
            "tool_types": c_strs,
            "aliases": c_strs,
            "kill_chain_phases": _KCP,
            "tool_version": _S,
        },
        ["name"],
    ),
    _sdo("vulnerability", {"name": _S, "description": _S}, ["name"]),
    _sdo(
        "relationship",
        {
            "relationship_type": c_regex(
                re.compile(r"[a-z0-9-]+\Z"), "a relationship type (a-z, 0-9, -)"
            ),
            "description": _S,
            "source_ref": c_ref(exclude=_NOT_RELATABLE),
            "target_ref": c_ref(exclude=_NOT_RELATABLE),
            "start_time": c_ts,
            "stop_time": c_ts,
        },
        ["relationship_type", "source_ref", "target_ref"],
        [_order("stop_time", ">", "start_time")],
        kind="sro",
    ),
    _sdo(
        "sighting",
        {
            "description": _S,
            "first_seen": c_ts,
            "last_seen": c_ts,
            "count": c_int(0, 999_999_999),
            "sighting_of_ref": c_ref(exclude=(*_NOT_RELATABLE, "extension-definition", *SCO_TYPES)),
            "observed_data_refs": c_refs(("observed-data",)),
            "where_sighted_refs": c_refs(("identity", "location")),
            "summary": c_bool,
        },
        ["sighting_of_ref"],
        [_order("last_seen", ">=", "first_seen")],
        kind="sro",
    ),
    _sdo(
        "language-content",
        {
            "object_ref": c_ref(exclude=("bundle", "language-content")),
            "object_modified": c_ts,
            "contents": c_dictionary(),
        },
        ["object_ref", "contents"],
        [_language_content_rule],
        kind="meta",
    ),
    _sdo(
        "extension-definition",
        {
            "name": _S,
            "description": _S,
            "schema": _S,
            "version": _S,
            "extension_types": c_list(c_extension_type),
            "extension_properties": c_strs,
        },
        ["name", "schema", "version", "extension_types", "created_by_ref"],
        [_extension_definition_rule],
        kind="meta",
    ),
]


