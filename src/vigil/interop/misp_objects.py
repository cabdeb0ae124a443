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
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from vigil.interop.misp_fast import (
    _NOT_PLAIN,
    _UUID,
    Ready,
    _misp_tables,
    _timestamp,
    plain_fields,
)

TEMPLATES = frozenset({"file", "domain-ip", "ip-port"})
# relations misp-stix maps its own way (times, paths, samples): left to it
_FILE_OTHER = frozenset({"path", "malware-sample", "attachment", "access-time",
                         "creation-time", "modification-time"})
_IP_PORT_OTHER = frozenset({"first-seen", "last-seen"})
_DATA_TYPES = frozenset({"attachment", "malware-sample"})


@dataclass(slots=True)
class FastObject:
    """One MISP object's STIX objects, in misp-stix's order."""

    objects: list[Ready]
    sdos: list[Ready]  # those that name their creator (created_by_ref)
    observed: str  # the observed-data id (the source of the object's references)
    modified: datetime  # the object's time (that of references without their own)
    relationship: Ready | None = None  # indicator based-on observed-data
    refs: list[str] = field(default_factory=list)


@cache
def _hashes_property() -> Any:
    from stix2.v21 import File

    return File._properties["hashes"]


def _rfc4122(uid: str) -> bool:
    """A uuid stix2 takes as an SCO id without interoperability (RFC 4122 variant)."""
    return uid[19] in "89ab"


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
        return _BUILDERS[obj["name"]](parser, obj, loaded, times)
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


# -- misp-stix's helpers, on plain values ---------------------------------------------

def _with_uuid(attributes: list[dict[str, Any]], with_uuid: tuple[str, ...]
               ) -> dict[str, list[Any]]:
    """``_extract_multiple_object_attributes_with_uuid``."""
    out: dict[str, list[Any]] = defaultdict(list)
    for a in attributes:
        relation = a["object_relation"]
        out[relation].append((a["value"], a["uuid"]) if relation in with_uuid
                             else a["value"])
    return out


def _split(attributes: dict[str, Any], single: tuple[str, ...] | None,
           with_uuid: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``_split_single_field_values``."""
    repeated: dict[str, Any] = {}
    for relation, values in list(attributes.items()):
        if single is not None and relation not in single:
            continue
        attributes[relation], *further = values
        if not further:
            continue
        if relation in with_uuid:
            further = [v[0] if len(v) == 2 else v[:-1] for v in further]
        repeated[relation] = further
    return attributes, repeated


def _restore(attributes: dict[str, Any], repeated: dict[str, Any]) -> None:
    """``_restore_repeated_values``."""
    for relation, values in repeated.items():
        if relation not in attributes:
            attributes[relation] = values[0] if len(values) == 1 else values
        elif isinstance(attributes[relation], list):
            attributes[relation].extend(values)
        else:
            attributes[relation] = [attributes[relation], *values]


def _select(attributes: dict[str, Any], feature: str) -> Any:
    """``_select_single_feature``."""
    if isinstance(attributes[feature], list):
        if len(attributes[feature]) == 1:
            return attributes.pop(feature)[0]
        return attributes[feature].pop(0)
    return attributes.pop(feature)


def _custom(parser: Any, attributes: dict[str, Any], unwrap: bool) -> dict[str, Any]:
    """``_handle_observable_multiple_properties`` (``unwrap``: a one-value list as its
    value) or ``_handle_observable_properties``."""
    out = {}
    for key, values in attributes.items():
        out[parser._custom_property_name(key)] = values[0] if unwrap and \
            isinstance(values, list) and len(values) == 1 else values
    return out


def _indicator_values(parser: Any, attributes: list[dict[str, Any]]
                      ) -> dict[str, list[str]]:
    """``_extract_multiple_indicator_object_attributes``: the values for IDS, escaped
    for a pattern."""
    out: dict[str, list[str]] = defaultdict(list)
    for a in attributes:
        if a["to_ids"]:
            out[a["object_relation"]].append(parser._handle_value_for_pattern(a["value"]))
    return out


def _custom_pattern(parser: Any, attributes: dict[str, Any], prefix: str) -> list[str]:
    """``_handle_pattern_multiple_properties``."""
    out = []
    for key, values in attributes.items():
        for value in values if isinstance(values, list) else [values]:
            out.append(f"{prefix}:{parser._quote_custom_property(key)} = '{value}'")
    return out


def _sco(kind: str, uid: str, props: dict[str, Any]) -> Ready:
    """An observable object as stix2 writes it: ``spec_version`` after the id, empty
    values left out."""
    out = Ready(type=kind, spec_version="2.1", id=f"{kind}--{uid}")
    for key, value in props.items():
        if value is not None and value != []:
            out[key] = value
    return out


def _address(value: str) -> str:
    return "ipv6-addr" if ":" in value else "ipv4-addr"


def _finish(parser: Any, obj: dict[str, Any], times: tuple[str, str],
            scos: list[Ready], pattern: list[str] | None) -> FastObject:
    """The observed-data (misp-stix's ``_handle_object_observable``) and, with a
    pattern, the indicator and its relationship (``_handle_object_indicator``)."""
    stamp, instant = times
    uid = obj["uuid"]
    labels = [f'misp:name="{obj["name"].replace("|", "-")}"',
              f'misp:meta-category="{obj["meta-category"]}"']
    observed = Ready(type="observed-data", spec_version="2.1", id=f"observed-data--{uid}",
                     created=stamp, modified=stamp, first_observed=instant,
                     last_observed=instant, number_observed=1,
                     object_refs=[o["id"] for o in scos], labels=labels)
    out = FastObject([observed, *scos], [observed], observed["id"],
                     parser._datetime_from_timestamp(obj["timestamp"]))
    if pattern is not None:
        indicator = Ready(type="indicator", spec_version="2.1", id=f"indicator--{uid}",
                          created=stamp, modified=stamp)
        if obj.get("comment"):
            indicator["description"] = obj["comment"]
        indicator.update(pattern=f'[{" AND ".join(pattern)}]', pattern_type="stix",
                         pattern_version="2.1", valid_from=instant,
                         kill_chain_phases=[{"kill_chain_name": "misp-category",
                                             "phase_name": obj["meta-category"]}],
                         labels=list(labels))
        out.objects.append(indicator)
        out.sdos.append(indicator)
        rel = parser._create_v5_uuid(f"{indicator['id']} - based-on - {observed['id']}")
        out.relationship = Ready(type="relationship", spec_version="2.1",
                                 id=f"relationship--{rel}", created=stamp, modified=stamp,
                                 relationship_type="based-on", source_ref=indicator["id"],
                                 target_ref=observed["id"])
    out.refs = [o["id"] for o in out.objects]
    return out


# -- the templates ------------------------------------------------------------------

def _file(parser: Any, obj: dict[str, Any], attributes: list[dict[str, Any]],
          times: tuple[str, str]) -> FastObject | None:
    """misp-stix's ``_parse_file_object`` for a file without path, sample,
    attachment or times, and not described by a PE object."""
    m = parser._mapping
    if any(a["object_relation"] in _FILE_OTHER for a in attributes):
        return None
    for ref in obj.get("ObjectReference") or ():
        if parser._is_reference_included(ref, "pe"):
            return None
    single = m.file_single_fields()
    # the observable (_parse_file_observable_object, _parse_file_args)
    attrs, repeated = _split(_with_uuid(attributes, ()), single)
    sizes = attrs.get("size-in-bytes") or []
    if not all(parser._is_canonical_integer(v, signed=True) for v in sizes):
        return None  # misp-stix warns and keeps it as a custom property
    args: dict[str, Any] = {}
    hashes: dict[str, str] = {}
    for kind in m.file_hash_main_types():
        value = attrs.get(kind)
        if value is None:
            continue
        name = parser._define_hash_type(kind)
        if not parser._check_hash_value(name, value):
            return None  # misp-stix warns of it
        hashes[name] = attrs.pop(kind)
    for kind in m.file_hash_types():
        name = parser._define_hash_type(kind)
        value = attrs.get(kind)
        if value is None or name in hashes:
            continue
        if not parser._check_hash_value(name, value):
            return None
        hashes[name] = attrs.pop(kind)
    if hashes:
        args["hashes"] = _hashes_property().clean(hashes, True)[0]
    mapped = {}
    for key, feature in m.file_object_mapping().items():
        if attrs.get(key):
            mapped[feature] = _select(attrs, key)
    if "size" in mapped:
        size = int(mapped["size"])
        if size < 0:
            return None  # stix2 refuses it (the object is misp-stix's error)
        mapped["size"] = size
    _restore(attrs, repeated)
    custom = _custom(parser, attrs, unwrap=True) if attrs else {}
    if not hashes and "name" not in mapped:
        return None  # stix2 refuses a file without either
    props = {**args, **{k: mapped[k] for k in ("size", "name", "name_enc", "mime_type")
                        if k in mapped}, **dict(sorted(custom.items()))}
    scos = [_sco("file", obj["uuid"], props)]
    pattern = None
    if any(a["to_ids"] for a in attributes):
        pattern = _file_pattern(parser, attributes, single)
    return _finish(parser, obj, times, scos, pattern)


def _file_pattern(parser: Any, attributes: list[dict[str, Any]],
                  single: tuple[str, ...]) -> list[str]:
    """misp-stix's ``_parse_file_object_pattern``."""
    m = parser._mapping
    attrs, repeated = _split(_indicator_values(parser, attributes), single)
    pattern = []
    for kind in m.hash_attribute_types():
        if attrs.get(kind):
            pattern.append(parser._create_hash_pattern(kind, attrs[kind]))  # or raises
            del attrs[kind]
    for key, feature in m.file_object_mapping().items():
        if attrs.get(key):
            for value in attrs.pop(key):
                pattern.append(f"file:{feature} = '{value}'")
    _restore(attrs, repeated)
    if attrs:
        pattern.extend(_custom_pattern(parser, attrs, "file"))
    return pattern


def _domain_ip(parser: Any, obj: dict[str, Any], attributes: list[dict[str, Any]],
               times: tuple[str, str]) -> FastObject | None:
    """misp-stix's ``_parse_domain_ip_object`` (its standard and custom cases)."""
    m = parser._mapping
    relations = [a["object_relation"] for a in attributes]
    if not any(r in ("domain", "hostname") for r in relations):
        return None  # misp-stix's custom object
    standard = m.domain_ip_standard_fields()
    single = m.domain_ip_single_fields()
    scos: list[Ready] = []
    if all(r in standard for r in relations):
        attrs, repeated = _split(_with_uuid(attributes, standard), single, standard)
        resolves = _ips(attrs, scos)
        if attrs.get("hostname"):
            value, uid = attrs["hostname"]
            props = {"value": value, "resolves_to_refs": resolves}
            if repeated:
                props.update(sorted(_custom(parser, repeated, unwrap=True).items()))
            scos.append(_sco("domain-name", uid, props))
        for value, uid in attrs.get("domain") or ():
            scos.append(_sco("domain-name", uid, {"value": value,
                                                  "resolves_to_refs": resolves}))
    else:
        attrs, repeated = _split(_with_uuid(attributes, ("ip",)), single, ("ip",))
        resolves = _ips(attrs, scos)
        props = {}
        for feature in ("domain", "hostname"):
            if attrs.get(feature):
                props["value"] = _select(attrs, feature)
                break
        _restore(attrs, repeated)
        props["resolves_to_refs"] = resolves
        if attrs:
            props.update(sorted(_custom(parser, attrs, unwrap=False).items()))
        scos.insert(0, _sco("domain-name", obj["uuid"], props))
    pattern = None
    if any(a["to_ids"] for a in attributes):
        ids = _indicator_values(parser, attributes)
        special = "domain" in ids and "hostname" in ids
        pattern = []
        for key, feature in m.domain_ip_object_mapping().items():
            if ids.get(key):
                if key == "hostname" and special:
                    feature = "x_misp_hostname"
                for value in ids.pop(key):
                    pattern.append(f"domain-name:{feature} = '{value}'")
        if ids:
            pattern.extend(_custom_pattern(parser, ids, "domain-name"))
    return _finish(parser, obj, times, scos, pattern)


def _ips(attrs: dict[str, Any], scos: list[Ready]) -> list[str]:
    """``_parse_domainip_ip_attributes``: one address object per ip, named by its
    attribute's uuid."""
    refs = []
    for value, uid in attrs.pop("ip", None) or ():
        if not _rfc4122(uid):
            raise ValueError(uid)
        addr = _sco(_address(value), uid, {"value": value})
        scos.append(addr)
        refs.append(addr["id"])
    return refs


def _ip_port(parser: Any, obj: dict[str, Any], attributes: list[dict[str, Any]],
             times: tuple[str, str]) -> FastObject | None:
    """misp-stix's ``_parse_ip_port_object`` for one without times."""
    m = parser._mapping
    if any(a["object_relation"] in _IP_PORT_OTHER for a in attributes):
        return None
    with_uuid = m.ip_port_uuid_fields()
    attrs, repeated = _split(_with_uuid(attributes, with_uuid), m.ip_port_single_fields(),
                             with_uuid)
    protocols: dict[str, None] = {}
    refs: dict[str, str] = {}
    scos: list[Ready] = []
    for feature in ("ip-src", "ip-dst", "ip"):
        if attrs.get(feature):
            ref = "src_ref" if feature == "ip-src" else "dst_ref"
            if ref not in refs:
                value, uid = _select(attrs, feature)
                if attrs.get(feature):
                    attrs[feature] = [v[0] for v in attrs.pop(feature)]
                if not _rfc4122(uid):
                    return None
                addr = _sco(_address(value), uid, {"value": value})
                scos.append(addr)
                refs[ref] = addr["id"]
                protocols[addr["type"].split("-")[0]] = None
            else:
                attrs[feature] = [v[0] for v in attrs.pop(feature)]
    if not refs:
        return None  # stix2 refuses network traffic without either end
    props: dict[str, Any] = dict(refs)
    if attrs or repeated:
        for key in ("src-port", "dst-port"):
            if not all(parser._is_canonical_integer(v, signed=True)
                       for v in attrs.get(key) or ()):
                return None  # misp-stix warns and keeps it as a custom property
        ports = {feature: _select(attrs, key)
                 for key, feature in m.ip_port_object_mapping("features").items()
                 if key in attrs}
        for feature, port in ports.items():
            if not 0 <= int(port) <= 65535:
                return None  # stix2 refuses it
            props[feature] = int(port)
        if "protocol" in attrs:
            protocols[attrs.pop("protocol")] = None
        props["protocols"] = list(protocols) if protocols else ["tcp"]
        _restore(attrs, repeated)
        if attrs:
            props.update(sorted(_custom(parser, attrs, unwrap=True).items()))
    else:
        props["protocols"] = list(protocols) if protocols else ["tcp"]
    order = ("src_ref", "dst_ref", "src_port", "dst_port", "protocols")
    traffic = _sco("network-traffic", obj["uuid"],
                   {**{k: props.pop(k) for k in order if k in props}, **props})
    scos.insert(0, traffic)
    pattern = None
    if any(a["to_ids"] for a in attributes):
        pattern = _ip_port_pattern(parser, attributes)
    return _finish(parser, obj, times, scos, pattern)


def _ip_port_pattern(parser: Any, attributes: list[dict[str, Any]]) -> list[str]:
    m = parser._mapping
    prefix = "network-traffic"
    ids = _indicator_values(parser, attributes)
    pattern = []
    for key, form in m.ip_port_object_mapping("ip_features").items():
        if ids.get(key):
            for value in ids.pop(key):
                pattern.append(f"({prefix}:{form.format(_address(value))} = '{value}')")
    for key, form in m.ip_port_object_mapping("domain_features").items():
        if ids.get(key):
            for value in ids.pop(key):
                pattern.append(f"({prefix}:{form} = '{value}')")
    for asset in ("features", "timeline"):
        for key, feature in m.ip_port_object_mapping(asset).items():
            if ids.get(key):
                for value in ids.pop(key):
                    pattern.append(f"{prefix}:{feature} = '{value}'")
    if ids:
        pattern.extend(_custom_pattern(parser, ids, prefix))
    return pattern


_BUILDERS = {"file": _file, "domain-ip": _domain_ip, "ip-port": _ip_port}


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
