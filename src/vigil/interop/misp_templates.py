"""The STIX objects of the MISP object templates :mod:`vigil.interop.misp_objects`
converts itself (``file``, ``domain-ip``, ``ip-port``), written as misp-stix's MISP ->
STIX 2.1 parser writes them, step by step: its helpers, on plain values, and one
builder per template (:data:`BUILDERS`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from vigil.interop.misp_fast import Ready

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


BUILDERS = {"file": _file, "domain-ip": _domain_ip, "ip-port": _ip_port}
