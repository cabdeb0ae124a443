"""STIX domain objects written as stix2 writes them, from misp-stix's arguments.

misp-stix builds each object it converts as a stix2 object, which checks and cleans
every property (tens of µs a property) before the object is serialised. For the
arguments misp-stix gives the objects of galaxy clusters, the event's identity, the
indicators it still builds itself (an indicator's pattern is vigil's validator's to
check, as in :mod:`vigil.interop.misp_parser`), and the ``x-misp-attribute`` and
``x-misp-object`` it makes of what it keeps whole (strings, lists of strings,
booleans, external references, kill chain phases, the ``created``/``modified`` times
and an indicator's validity to the second, ``created_by_ref``, ``object_marking_refs``,
dictionaries and lists of them, and ``x_misp_*`` custom properties of plain JSON
values), :func:`ready` writes what stix2 would serialise: the class's properties in
its order, then the custom properties sorted by name, empty values left out. Any
other argument (another kind of property, a value stix2 would convert or refuse, a
property with a default) makes it return None, and the caller builds the stix2 object
instead. ``tests/interop/test_misp_sdo.py`` checks it against stix2 property by
property.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson

from vigil.interop.misp_fast import Fast, Ready, plain_value, timestamp_of

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CUSTOM = re.compile(r"x_[a-z0-9_]{1,248}")
_KEY = re.compile(r"[a-zA-Z0-9_-]{1,250}")  # a dictionary key stix2 takes
_EXTERNAL = ("source_name", "description", "url", "external_id")  # stix2's order
_PHASE = ("kill_chain_name", "phase_name")
# arguments that are stix2's, not properties
_NOT_PROPERTIES = ("allow_custom", "interoperability")
# references whose type stix2 checks (ReferenceProperty valid_types)
_REFERENCE_TYPES = {"created_by_ref": "identity", "object_marking_refs": "marking-definition"}


@cache
def _shape(cls: Any) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """(property, kind) in the class's order, and its required properties. A kind
    this module does not write is ``""``."""
    from stix2 import properties as p
    from stix2.v21.common import ExternalReference, KillChainPhase

    shape = []
    required = set()
    for name, prop in cls._properties.items():
        kind = ""
        t = type(prop)
        if t is p.TypeProperty:
            kind = "type"
        elif t is p.IDProperty:
            kind = "id"
        elif name == "spec_version":
            kind = "spec"
        elif t is p.TimestampProperty and name in ("created", "modified"):
            kind = "stamp"
        elif t is p.TimestampProperty and prop.precision == "any" and \
                name in ("valid_from", "valid_until"):
            kind = "instant"
        elif t in (p.StringProperty, p.OpenVocabProperty, p.PatternProperty):
            kind = "str"
        elif t is p.BooleanProperty and name != "revoked":
            kind = "bool"
        elif t is p.ReferenceProperty and name in _REFERENCE_TYPES:
            kind = "ref"
        elif t is p.DictionaryProperty:
            kind = "dict"
        elif t is p.ListProperty:
            inner = prop.contained
            if type(inner) in (p.StringProperty, p.OpenVocabProperty):
                kind = "strs"
            elif inner is ExternalReference:
                kind = "external"
            elif inner is KillChainPhase:
                kind = "phases"
            elif type(inner) is p.ReferenceProperty and name in _REFERENCE_TYPES:
                kind = "refs"
            elif type(inner) is p.DictionaryProperty:
                kind = "dicts"
        shape.append((name, kind))
        if prop.required:
            required.add(name)
    return tuple(shape), frozenset(required)


def _stamp(value: Any) -> str | None:
    if not isinstance(value, datetime) or value.microsecond or \
            value.utcoffset() != UTC.utcoffset(None):
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _instant(value: Any) -> str | None:
    """A time to the second, as stix2 writes a timestamp of any precision."""
    if not isinstance(value, datetime) or value.microsecond or \
            value.utcoffset() != UTC.utcoffset(None):
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ref(value: Any, kind: str, interoperability: bool) -> bool:
    if not isinstance(value, str) or not value.startswith(f"{kind}--"):
        return False
    uid = value[len(kind) + 2:]
    return bool(_UUID.fullmatch(uid)) and (interoperability or uid[19] in "89ab")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)


def _embedded(value: Any, keys: tuple[str, ...], needed: tuple[str, ...]
              ) -> list[dict[str, str]] | None:
    """A list of external references or kill chain phases as stix2 writes them."""
    if not isinstance(value, list):
        return None
    out = []
    for item in value:
        if not isinstance(item, dict) or not item.keys() <= set(keys) or \
                not all(isinstance(v, str) for v in item.values()):
            return None
        written = {k: item[k] for k in keys if item.get(k) is not None}
        if not all(k in written for k in needed) or len(written) < 2:
            return None
        out.append(written)
    return out


def _plain_json(value: Any) -> bool:
    """A value JSON writes and reads back as it is (no NaN, no integer orjson
    cannot read)."""
    if isinstance(value, str | bool) or value is None:
        return True
    if isinstance(value, int):
        return -(2 ** 63) <= value < 2 ** 63
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    return False


def _dictionary(value: Any) -> bool:
    """A dictionary stix2's DictionaryProperty takes as it is."""
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and _KEY.fullmatch(k) for k in value) and _plain_json(value)


def ready(cls: Any, args: dict[str, Any]) -> Ready | None:
    """The object stix2's ``cls(**args)`` serialises to, or None when ``args`` hold
    anything but the plain values this module writes."""
    shape, required = _shape(cls)
    interoperability = bool(args.get("interoperability"))
    known = {name for name, _ in shape}
    custom = sorted(k for k in args if k not in known and k not in _NOT_PROPERTIES)
    if custom and not args.get("allow_custom"):
        return None
    out = Ready()
    for name, kind in shape:
        value = args.get(name)
        if name == "type":
            out["type"] = cls._type
            if value is not None and value != cls._type:
                return None
            continue
        if name == "spec_version":
            out["spec_version"] = "2.1"
            if value is not None and value != "2.1":
                return None
            continue
        if value is None or value == []:
            if name in required or name in ("id", "created", "modified", "valid_from") or \
                    (name == "pattern_version" and cls._type == "indicator"):
                return None  # stix2 refuses it, or makes one up
            continue
        if kind == "id":
            if not _ref(value, cls._type, interoperability):
                return None
        elif kind == "stamp":
            value = _stamp(value)
        elif kind == "instant":
            value = _instant(value)
        elif kind == "str":
            if not isinstance(value, str):
                return None
        elif kind == "bool":
            if not isinstance(value, bool):
                return None
        elif kind == "strs":
            if not _strings(value):
                return None
            value = list(value)
        elif kind == "ref":
            if not _ref(value, _REFERENCE_TYPES[name], interoperability):
                return None
        elif kind == "refs":
            if not isinstance(value, list) or \
                    not all(_ref(v, _REFERENCE_TYPES[name], interoperability) for v in value):
                return None
            value = list(value)
        elif kind == "external":
            value = _embedded(value, _EXTERNAL, ("source_name",))
        elif kind == "phases":
            value = _embedded(value, _PHASE, _PHASE)
        elif kind == "dict":
            if not _dictionary(value):
                return None
            value = orjson.loads(orjson.dumps(value))
        elif kind == "dicts":
            if not isinstance(value, list) or not all(_dictionary(v) for v in value):
                return None
            value = orjson.loads(orjson.dumps(value))
        else:
            return None
        if value is None:
            return None
        out[name] = value
    if "valid_until" in out and args["valid_until"] <= args["valid_from"]:
        return None  # stix2 refuses an indicator valid until before it is valid
    for name in custom:
        value = args[name]
        if value is None or value == []:
            continue
        if not _CUSTOM.fullmatch(name) or not _plain_json(value):
            return None
        # a copy, as stix2's serialisation gives (the value may be the input's)
        out[name] = orjson.loads(orjson.dumps(value)) if isinstance(value, list | dict) \
            else value
    return out


@cache
def _types() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The MISP attribute types misp-stix's STIX 2.1 parser has no function for (it
    keeps each such attribute whole as an ``x-misp-attribute``: ``text``, ``comment``,
    ``pdb``, ``other``, ...), those it writes as an indicator in their own pattern
    language (``yara``, ``snort``, ``suricata``, ``sigma``), and both with
    ``vulnerability``."""
    from misp_stix_converter.misp2stix.stix21_mapping import MISPtoSTIX21Mapping
    from pymisp.abstract import describe_types

    mapped = MISPtoSTIX21Mapping.attribute_types_mapping
    unmapped = frozenset(t for t in describe_types["types"] if mapped(t) is None)
    languages = frozenset(t for t in describe_types["types"]
                          if mapped(t) == "_parse_patterning_language_attribute")
    return unmapped, languages, unmapped | languages | {"vulnerability"}


def unmapped_types() -> frozenset[str]:
    return _types()[0]


def pattern_language_types() -> frozenset[str]:
    return _types()[1]


def direct_types() -> frozenset[str]:
    """Every type :func:`custom_attribute` takes."""
    return _types()[2]


def custom_attribute(parser: Any, attribute: dict[str, Any]) -> Fast | None:
    """The one STIX object misp-stix makes of a plain attribute (None for any other)
    of a type it keeps whole (``_parse_custom_attribute``: an ``x-misp-attribute``),
    of a pattern language (``_parse_patterning_language_attribute``: an indicator,
    for IDS or not) or a ``vulnerability``: misp-stix's own arguments, from the value
    and timestamp as PyMISP loads them, given to the parser's own ``_create_*`` (which
    write them directly, :func:`ready`); its tags become labels and markings as on
    the direct path (``Fast.mark``)."""
    if not isinstance(attribute, dict):
        return None
    value = plain_value(attribute, direct_types())
    when = timestamp_of(attribute.get("timestamp"))
    if value is None or when is None:
        return None
    kind, uid = attribute["type"], attribute["uuid"]
    labels = parser._create_labels(attribute)
    try:
        if kind in pattern_language_types():
            args: dict[str, Any] = {
                "id": f"indicator--{uid}", "type": "indicator", "labels": labels,
                "pattern": f"[{value}]",
                "kill_chain_phases": parser._create_killchain(attribute["category"]),
                "created": when, "modified": when, "valid_from": when,
                "pattern_type": kind}
            if attribute.get("comment"):
                args["description"] = attribute["comment"]
            made = parser._create_indicator(args)
        elif kind == "vulnerability":
            made = parser._create_vulnerability({
                "id": f"vulnerability--{uid}", "type": "vulnerability", "name": value,
                "created": when, "modified": when, "labels": labels,
                "external_references": [parser._get_vulnerability_references(value)]})
        else:
            args = {"id": f"x-misp-attribute--{uid}", "labels": labels,
                    "x_misp_value": value, "created": when, "x_misp_type": kind,
                    "modified": when, "x_misp_category": attribute["category"]}
            if attribute.get("comment"):
                args["x_misp_comment"] = attribute["comment"]
            made = parser._create_custom_attribute(args)
    except Exception:  # misp-stix's own way: its error
        return None
    if not isinstance(made, Ready):
        return None
    out = Ready(made)  # (not the parser's timed indicator: a plain written object)
    return Fast([out], [out], refs=[out.id],
                tags=tuple(t["name"] for t in attribute.get("Tag") or ()))
