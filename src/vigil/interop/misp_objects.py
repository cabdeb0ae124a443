"""The common MISP objects converted to STIX 2.1 without PyMISP or stix2 objects.

misp-stix loads every MISP object with PyMISP (its template, each attribute checked)
and builds every STIX object of it as a stix2 object: about a millisecond per object
attribute. For the object templates events are mostly made of (``file``,
``domain-ip``, ``ip-port``), :func:`fast_object` writes the same objects straight as
JSON objects, following misp-stix's MISP -> STIX 2.1 parser step by step: the same
ids (the object's uuid, an address's attribute uuid), the same observable objects
and custom ``x_misp_*`` properties (named by misp-stix's own fold), the same
patterns (escaped, quoted and hashed by the parser's own functions), labels, kill
chain phase and times. Object references stay misp-stix's: the parser turns them
into relationships itself, from the object's id and time given here.

Only a plain object takes this path: a template of :data:`TEMPLATES`, a uuid, a
timestamp, a meta-category, no tags, galaxies, sightings, analyst data,
``first_seen``/``last_seen``, sharing group or attachment on it or its attributes,
and attributes that are each plain (a type PyMISP validates the value of, a category
PyMISP accepts for it, a boolean ``to_ids``, a uuid) and hold no relation that
misp-stix maps its own way (times, paths, samples) or that its checks would refuse
or rewrite (a hash of the wrong form, a port that is not a canonical integer).
Anything else is misp-stix's whole. ``tests/interop/test_misp_objects.py`` checks the
output equals misp-stix's for every object of the real events.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from vigil.interop.misp_fast import (
    _NOT_PLAIN,
    _UUID,
    Ready,
    _misp_tables,
    _timestamp,
    plain_fields,
)
from vigil.interop.misp_templates import (
    _DATA_TYPES,
    BUILDERS,
    FastObject,
    _rfc4122,
)

TEMPLATES = frozenset({"file", "domain-ip", "ip-port"})


def _plain_attribute(attribute: Any) -> str | None:
    """The value of an object attribute as PyMISP loads it, or None when the
    attribute is not one this path takes."""
    if not isinstance(attribute, dict):
        return None
    kind, value, category = attribute.get("type"), attribute.get("value"), \
        attribute.get("category")
    relation = attribute.get("object_relation")
    if not isinstance(kind, str) or kind in _DATA_TYPES or not isinstance(value, str) \
            or not value or "\x00" in value or not isinstance(category, str) \
            or not isinstance(relation, str) or not relation:
        return None  # (PyMISP's load of an object strips NUL from its values)
    if any(attribute.get(k) for k in _NOT_PLAIN):
        return None
    uid = attribute.get("uuid")
    if not isinstance(uid, str) or not _UUID.fullmatch(uid) or not _rfc4122(uid):
        return None
    if not isinstance(attribute.get("to_ids"), bool):
        return None
    if not plain_fields(attribute):
        return None
    categories, tool = _misp_tables()
    if kind not in categories.get(category, ()):
        return None
    try:
        value = tool.modifyBeforeValidation(kind, value)
        ok = tool.validate(kind, value)
    except Exception:  # PyMISP's error, reported by misp-stix's own load
        return None
    return value if ok is True and isinstance(value, str) and value else None


def _plain_references(obj: dict[str, Any]) -> bool:
    refs = obj.get("ObjectReference")
    if refs is None:
        return True
    if not isinstance(refs, list):
        return False
    for ref in refs:
        if not isinstance(ref, dict):
            return False
        if not isinstance(ref.get("referenced_uuid"), str) or \
                not isinstance(ref.get("relationship_type"), str):
            return False
        u = ref.get("uuid")  # PyMISP gives one without a uuid a random one
        if not (isinstance(u, str) and _UUID.fullmatch(u)):
            return False
        if ref.get("timestamp") is not None and _timestamp(ref["timestamp"]) is None:
            return False
    return True


def _plain_object(obj: Any, templates: frozenset[str]) -> bool:
    """Whether ``obj`` is a MISP object of one of ``templates`` with a valid uuid, a
    meta-category, none of the fields that need misp-stix's own handling and plain
    fields only."""
    if not isinstance(obj, dict) or obj.get("name") not in templates:
        return False
    uid, meta = obj.get("uuid"), obj.get("meta-category")
    if not isinstance(uid, str) or not _UUID.fullmatch(uid) or not _rfc4122(uid) \
            or not isinstance(meta, str) or not meta:
        return False
    return not any(obj.get(k) for k in _NOT_PLAIN) and plain_fields(obj)


def fast_object(parser: Any, obj: Any) -> FastObject | None:
    """The STIX objects misp-stix's ``parser`` makes of a plain MISP object (None: not
    plain, or one misp-stix handles its own way). ``created_by_ref`` is added by the
    caller when the event's identity is known."""
    if not _plain_object(obj, TEMPLATES):
        return None
    times = _timestamp(obj.get("timestamp"))
    attributes = obj.get("Attribute")
    if times is None or not isinstance(attributes, list) or not attributes or \
            not _plain_references(obj):
        return None
    values = [_plain_attribute(a) for a in attributes]
    if any(v is None for v in values):
        return None
    # the attributes as misp-stix reads them: relation, value, uuid, to_ids
    loaded = [{"object_relation": a["object_relation"], "value": v, "uuid": a["uuid"],
               "to_ids": a["to_ids"], "type": a["type"]}
              for a, v in zip(attributes, values, strict=True)]
    try:
        return BUILDERS[obj["name"]](parser, obj, loaded, times)
    except Exception:  # misp-stix's own way: its error, its custom object
        return None


# templates misp-stix converts from the object's JSON itself (see loaded_object)
LOADED_TEMPLATES = frozenset({"file", "pe", "pe-section"})


class LoadedObject(dict[str, Any]):
    """A MISP object as misp-stix reads it after PyMISP's load: its own JSON, with each
    attribute's value as PyMISP normalises it (and ``attributes``, PyMISP's name for
    them, which misp-stix's PE functions read)."""

    @property
    def attributes(self) -> list[dict[str, Any]]:
        return list(self["Attribute"])


def loaded_object(obj: Any) -> LoadedObject | None:
    """A plain object of the templates ``file``, ``pe`` and ``pe-section`` (as plain as
    :func:`fast_object` asks) ready for misp-stix's own conversion without PyMISP's load:
    a file described by a PE object and its sections (the ``windows-pebinary-ext``
    extension misp-stix builds from the three), a PE object or section misp-stix keeps
    on its own, or a file :func:`fast_object` leaves to misp-stix. None: PyMISP's load
    would change or refuse it (misp-stix then loads it itself)."""
    if not _plain_object(obj, LOADED_TEMPLATES):
        return None
    attributes = obj.get("Attribute")
    if _timestamp(obj.get("timestamp")) is None or not isinstance(attributes, list) or \
            not attributes or not _plain_references(obj):
        return None
    version = obj.get("template_version")
    if version and not (isinstance(version, int) and not isinstance(version, bool)) and \
            not (isinstance(version, str) and version.isascii() and version.isdigit()):
        return None  # PyMISP reads it with int()
    values = [_plain_attribute(a) for a in attributes]
    if any(v is None for v in values):
        return None
    return LoadedObject({**obj, "Attribute": [{**a, "value": v} for a, v in
                                              zip(attributes, values, strict=True)]})




def relationship(args: dict[str, Any]) -> Ready | None:
    """A relationship as stix2 writes it from misp-stix's arguments (None for other
    than the plain ones: stix2 then builds it)."""
    if not args.keys() <= _RELATIONSHIP_KEYS or not args.keys() >= _RELATIONSHIP_NEEDS:
        return None
    out = Ready(type="relationship", spec_version="2.1")
    for key in ("id", "created", "modified", "relationship_type", "source_ref",
                "target_ref"):
        value = args[key]
        if isinstance(value, datetime):
            if value.microsecond or value.utcoffset() != UTC.utcoffset(None):
                return None
            value = value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        elif not isinstance(value, str):
            return None
        out[key] = value
    if out["modified"] < out["created"] or not _RELATIONSHIP_ID.fullmatch(out["id"]):
        return None
    for key in ("source_ref", "target_ref"):
        m = _REF.fullmatch(out[key])
        if m is None or m.group(1) in _NOT_ENDS:
            return None
    return out


_RELATIONSHIP_ID = re.compile(f"relationship--{_UUID.pattern}")
_REF = re.compile(f"([a-z0-9-]+)--{_UUID.pattern}")
# what stix2 refuses as either end of a relationship
_NOT_ENDS = frozenset({"bundle", "language-content", "marking-definition", "relationship",
                       "sighting"})
_RELATIONSHIP_NEEDS = frozenset({"id", "created", "modified", "relationship_type",
                                 "source_ref", "target_ref"})
_RELATIONSHIP_KEYS = _RELATIONSHIP_NEEDS | {"allow_custom", "interoperability"}
