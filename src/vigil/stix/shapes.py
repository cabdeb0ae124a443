"""Shapes of the STIX 2.1 validator (``vigil.stix.validate``) that many objects share:
dictionaries, hashes, external references, kill chain phases, granular markings, custom
properties and extensions, and the checker of a whole object (``c_object``). Built from
the value checkers of ``vigil.stix.checks``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from vigil.stix._formats import (
    EXTENSION_DEFINITION_KEY_RE,
    PREDEFINED_EXTENSION_KEY_RE,
    show,
)
from vigil.stix.checks import (
    Check,
    Err,
    _sub,
    _v,
    c_bin,
    c_enum,
    c_hex,
    c_ref,
    c_uri,
)

# --- JSON-schema shapes shared by many objects --------------------------------------

_DICT_KEY_RE = re.compile(r"[a-zA-Z0-9_-]{0,250}\Z")
_HASH_KEY_RE = re.compile(r"[a-zA-Z0-9_-]{3,250}\Z")
_HASH_FORMATS: dict[str, re.Pattern[str]] = {
    "MD5": re.compile(r"[a-fA-F0-9]{32}\Z"),
    "SHA-1": re.compile(r"[a-fA-F0-9]{40}\Z"),
    "SHA-256": re.compile(r"[a-fA-F0-9]{64}\Z"),
    "SHA-512": re.compile(r"[a-fA-F0-9]{128}\Z"),
    "SHA3-256": re.compile(r"[a-fA-F0-9]{64}\Z"),
    "SHA3-512": re.compile(r"[a-fA-F0-9]{128}\Z"),
    "SSDEEP": re.compile(r"[a-zA-Z0-9/+:.]{1,128}\Z"),
    "TLSH": re.compile(r"[a-zA-Z0-9]{70}\Z"),
}
_EXTREF_HASH_NAME_RE = re.compile(r"^MD5|SHA-1|SHA-256|SHA-512|SHA3-256|SHA3-512|SSDEEP|TLSH\Z")


def c_dictionary(value_check: Check | None = None, key_rx: re.Pattern[str] | None = None) -> Check:
    """STIX dictionary: non-empty object, keys ``[a-zA-Z0-9_-]{0,250}``, no null/[]."""

    def check(v: Any) -> Err | None:
        if not isinstance(v, dict):
            return _v(f"{show(v)} is not a dictionary")
        if not v:
            return _v("empty dictionaries are not allowed")
        for k, x in v.items():
            if _DICT_KEY_RE.match(k) is None:
                return ("stix.property", _sub(k), f"invalid dictionary key {show(k)}")
            if key_rx is not None and key_rx.search(k) is None:
                return ("stix.property", _sub(k), f"dictionary key {show(k)} is not allowed here")
            if x is None:
                return _v("null is not allowed", _sub(k))
            if x == []:
                return _v("empty lists are not allowed", _sub(k))
            if value_check is not None:
                e = value_check(x)
                if e is not None:
                    return (e[0], _sub(k) + e[1], e[2])
        return None

    return check


def c_hashes(v: Any) -> Err | None:
    if not isinstance(v, dict):
        return _v(f"{show(v)} is not a hashes dictionary")
    if not v:
        return _v("empty dictionaries are not allowed")
    for k, h in v.items():
        if _HASH_KEY_RE.match(k) is None:
            return ("stix.property", _sub(k), f"invalid hash algorithm name {show(k)}")
        if not isinstance(h, str):
            return _v(f"{show(h)} is not a string", _sub(k))
        rx = _HASH_FORMATS.get(k)
        if rx is not None and rx.match(h) is None:
            return _v(f"{show(h)} is not a valid {k} hash", _sub(k))
    return None


_CVE_RE = re.compile(r"CVE-\d{4}-(?:0\d{3}|[1-9]\d{3,})\Z")
_CAPEC_RE = re.compile(r"CAPEC-\d+\Z")


def c_external_reference(v: Any) -> Err | None:
    if not isinstance(v, dict):
        return _v(f"{show(v)} is not an external reference object")
    if "source_name" not in v:
        return ("stix.required", "/source_name", "source_name is required")
    sn = v["source_name"]
    if not isinstance(sn, str):
        return _v(f"{show(sn)} is not a string", "/source_name")
    for k in ("description", "external_id"):
        if k in v and not isinstance(v[k], str):
            return _v(f"{show(v[k])} is not a string", _sub(k))
    if "url" in v:
        e = c_uri(v["url"])
        if e is not None:
            return (e[0], "/url", e[2])
    if "hashes" in v:
        e = c_hashes(v["hashes"])
        if e is not None:
            return (e[0], "/hashes" + e[1], e[2])
        for k in v["hashes"]:
            if _EXTREF_HASH_NAME_RE.search(k) is None:
                return ("stix.property", "/hashes" + _sub(k), f"unknown hash algorithm {show(k)}")
    eid = v.get("external_id")
    if sn in ("cve", "capec"):
        rx = _CVE_RE if sn == "cve" else _CAPEC_RE
        if eid is None:
            return ("stix.required", "/external_id", f"a {sn} reference needs an external_id")
        if rx.match(eid) is None:
            return _v(f"{show(eid)} is not a {sn.upper()} identifier", "/external_id")
        return None
    if eid is not None and (_CVE_RE.match(eid) or _CAPEC_RE.match(eid)):
        return _v(f"{show(eid)} needs source_name 'cve' or 'capec'", "/external_id")
    if "external_id" not in v and "description" not in v and "url" not in v:
        return ("stix.required", "", "an external reference needs external_id, description or url")
    return None


def c_kill_chain_phase(v: Any) -> Err | None:
    if not isinstance(v, dict):
        return _v(f"{show(v)} is not a kill chain phase object")
    for k in ("kill_chain_name", "phase_name"):
        if k not in v:
            return ("stix.required", _sub(k), f"{k} is required")
        if not isinstance(v[k], str):
            return _v(f"{show(v[k])} is not a string", _sub(k))
    return None


_SELECTOR_RE = re.compile(r"(?:[a-z0-9_-]{3,249}(?:\.(?:\[\d+\]|[a-z0-9_-]{1,250}))*|id)\Z")
c_marking_ref = c_ref(("marking-definition",))


def c_granular_marking(v: Any) -> Err | None:
    if not isinstance(v, dict):
        return _v(f"{show(v)} is not a granular marking object")
    for k in ("selectors", "marking_ref"):
        if k not in v:
            return ("stix.required", _sub(k), f"{k} is required")
    sel = v["selectors"]
    if not isinstance(sel, list) or not sel:
        return _v("selectors must be a non-empty list", "/selectors")
    for i, s in enumerate(sel):
        if not isinstance(s, str) or _SELECTOR_RE.match(s) is None:
            return _v(f"{show(s)} is not a selector", f"/selectors/{i}")
    if "lang" in v and not isinstance(v["lang"], str):
        return _v(f"{show(v['lang'])} is not a string", "/lang")
    e = c_marking_ref(v["marking_ref"])
    if e is not None:
        return (e[0], "/marking_ref", e[2])
    return None


# --- custom properties and extensions -----------------------------------------------

_GENERIC_KEY_RE = re.compile(r"[a-z][a-z0-9_]{2}")
_BIN_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,245}_bin\Z")
_HEX_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,245}_hex\Z")


def custom_property(key: str, value: Any) -> Err | None:
    """The rules for any property without a specific definition (the schema's
    ``properties.json``). Custom ``*_ref``/``*_refs`` properties are not forced to hold
    identifiers: real data (MITRE ATT&CK ICS, Attack Flow) puts ``""`` or technique
    ids there, and the reference validator accepts it."""
    generic = _GENERIC_KEY_RE.match(key) is not None or key.endswith("id")
    binary = _BIN_KEY_RE.match(key) is not None
    hexa = _HEX_KEY_RE.match(key) is not None
    if not (generic or binary or hexa):
        return (
            "stix.property",
            "",
            f"invalid property name {show(key)}: use a-z, 0-9 and _, starting with a letter",
        )
    if generic:
        if value is None:
            return _v("null is not allowed; omit the property instead")
        if value == []:
            return _v("empty lists are not allowed; omit the property instead")
    if binary:
        e = c_bin(value)
        if e is not None:
            return e
    if hexa:
        e = c_hex(value)
        if e is not None:
            return e
    return None


def _properties_json(d: dict[str, Any]) -> Err | None:
    for k, x in d.items():
        e = custom_property(k, x)
        if e is not None:
            return (e[0], _sub(k) + e[1], e[2])
    return None


_EXTENSION_TYPES = (
    "new-sdo",
    "new-sco",
    "new-sro",
    "property-extension",
    "toplevel-property-extension",
)
c_extension_type = c_enum(*_EXTENSION_TYPES)


def _extension_definition_content(ext: Any) -> Err | None:
    if not isinstance(ext, dict):
        return ("stix.extension", "", f"{show(ext)} is not an extension object")
    if not ext:
        return ("stix.extension", "", "an extension must not be empty")
    if "extension_type" not in ext:
        return ("stix.required", "/extension_type", "extension_type is required")
    e = c_extension_type(ext["extension_type"])
    if e is not None:
        return (e[0], "/extension_type", e[2])
    return _properties_json(ext)


def c_extensions_core(v: Any) -> Err | None:
    """``extensions`` of core.json: predefined ``*-ext`` or ``extension-definition--``."""
    if not isinstance(v, dict):
        return ("stix.extension", "", f"{show(v)} is not an extensions dictionary")
    if not v:
        return ("stix.extension", "", "empty extensions dictionary")
    for k, ext in v.items():
        if EXTENSION_DEFINITION_KEY_RE.match(k):
            e = _extension_definition_content(ext)
        elif PREDEFINED_EXTENSION_KEY_RE.match(k):
            if not isinstance(ext, dict):
                e = ("stix.extension", "", f"{show(ext)} is not an extension object")
            elif not ext:
                e = ("stix.extension", "", "an extension must not be empty")
            else:
                e = _properties_json(ext)
        else:
            e = (
                "stix.extension",
                "",
                f"invalid extension name {show(k)}: an extension-definition id or a name "
                "ending in -ext",
            )
        if e is not None:
            return (e[0], _sub(k) + e[1], e[2])
    return None


def c_object(
    props: Mapping[str, Check],
    *,
    required: Iterable[str] = (),
    any_of: Iterable[str] = (),
    closed: bool = False,
    min_props: int = 0,
) -> Check:
    """A nested object with typed properties."""
    req = tuple(required)
    anyof = tuple(any_of)

    def check(v: Any) -> Err | None:
        if not isinstance(v, dict):
            return _v(f"{show(v)} is not an object")
        if len(v) < min_props:
            return _v("empty objects are not allowed")
        for r in req:
            if r not in v:
                return ("stix.required", _sub(r), f"{r} is required")
        if anyof and not any(k in v for k in anyof):
            return ("stix.required", "", "at least one of " + ", ".join(anyof) + " is required")
        for k, x in v.items():
            chk = props.get(k)
            if chk is None:
                if closed:
                    return ("stix.property", _sub(k), f"unknown property {show(k)}")
                continue
            e = chk(x)
            if e is not None:
                return (e[0], _sub(k) + e[1], e[2])
        return None

    return check


def c_sco_extensions(specific: Mapping[str, Check]) -> Check:
    """``extensions`` of file, network-traffic, process, user-account: the core rules,
    the STIX dictionary rules, the predefined extensions' schemas, and any other
    extension must itself be a STIX dictionary."""
    as_dictionary = c_dictionary()

    def check(v: Any) -> Err | None:
        e = c_extensions_core(v)
        if e is not None:
            return e
        e = as_dictionary(v)
        if e is not None:
            return e
        for k, ext in v.items():
            chk = specific.get(k, as_dictionary)
            e = chk(ext)
            if e is not None:
                return (e[0], _sub(k) + e[1], e[2])
        return None

    return check


