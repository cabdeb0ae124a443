"""STIX 2.1 validation of bundles and objects, fast enough for the ingest path.

What is checked (every object of a bundle, in order):

* the bundle: ``type: "bundle"``, ``id: bundle--<uuid>``, a non-empty ``objects`` list;
* every object: ``type`` syntax, ``id = <type>--<uuid>`` (UUID v1-v5, RFC 4122
  variant; the type part must equal ``type``), ``spec_version: "2.1"`` (required on
  SDOs, SROs, marking definitions, language contents, extension definitions and
  custom objects with ``created``/``modified``; optional on SCOs);
* ``created``/``modified`` (RFC 3339 UTC, millisecond precision, a real calendar
  date) with ``modified >= created``, and every other timestamp property, with the
  ordering rules of the spec (``valid_until > valid_from``, ``last_seen >=
  first_seen``, ``stop_time > start_time``, ...);
* the required properties and the JSON type of every property of all STIX 2.1 SDOs,
  SROs, SCOs (and their predefined extensions), marking definitions (statement,
  TLP 1.0, TLP 2.0 / extension-based), language contents and extension definitions;
* references: every ``*_ref``/``*_refs`` property the spec defines holds identifiers
  (custom ones are left alone, as real ATT&CK and Attack Flow data put ``""`` and
  technique ids there); where the spec restricts the target type it is enforced
  (``created_by_ref`` -> identity, ``object_marking_refs``/``marking_ref`` ->
  marking-definition, ``sighting_of_ref`` -> not an SCO/SRO/meta object,
  ``where_sighted_refs`` -> identity/location, SCO references per the spec, ...);
* closed vocabularies (``opinion``, encryption algorithms, socket/service/registry
  enumerations, ``extension_types``); open vocabularies are not enforced (the
  reference validator only warns about them);
* custom content, as ``stix2-validator`` does by default: custom object types and
  custom properties are accepted, provided the names are well formed, values are not
  ``null`` or empty lists, and ``*_bin``/``*_hex`` values are base64/hex;
* indicator patterns with ``pattern_type: "stix"``: a compiled fast path for the
  common simple forms, the reference ``stix2-patterns`` grammar for the rest.

STIX 2.0 content is refused: an SDO/SRO without ``spec_version`` (which is how STIX
2.0 looks) fails with ``stix.spec_version``; convert it to 2.1 first.

Errors are :class:`vigil.errors.StixError` with one of these codes and the JSON
pointer of the fault: ``stix.bundle``, ``stix.object``, ``stix.type``, ``stix.id``,
``stix.spec_version``, ``stix.required``, ``stix.timestamp``,
``stix.timestamp_order``, ``stix.property``, ``stix.value``, ``stix.reference``,
``stix.vocab``, ``stix.pattern``, ``stix.marking``, ``stix.extension``.

Where vigil's checks differ from ``stix2-validator`` 3.3 on purpose, the difference
is listed (with its reason) in ``tests/stix/test_stix_agreement.py``.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from vigil.errors import StixError
from vigil.params import decimal
from vigil.stix import _patterns, intel_specs
from vigil.stix._formats import (
    BINARY_RE,
    EMAIL_RE,
    EXTENSION_DEFINITION_KEY_RE,
    HEX_RE,
    IDENTIFIER_RE,
    IPV4_RE,
    MAC_RE,
    PREDEFINED_EXTENSION_KEY_RE,
    TYPE_RE,
    is_hostname,
    is_ipv6,
    is_language_tag,
    is_uri,
    show,
    timestamp_cmp,
    timestamp_error,
    timestamp_fraction,
    uuid_version,
)
from vigil.stix.strictjson import pointer_escape

__all__ = [
    "MAX_REPORTED",
    "Problem",
    "ValidationReport",
    "check_bundle",
    "check_object",
    "validate_bundle",
    "validate_object",
]

MAX_REPORTED = 20
"""How many problems :func:`validate_bundle` lists in the error's detail."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason why content is not valid STIX 2.1."""

    code: str
    pointer: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "pointer": self.pointer, "message": self.message}


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """What a valid bundle holds (returned by :func:`validate_bundle`)."""

    objects: int
    types: Mapping[str, int]
    custom_types: Mapping[str, int] = field(default_factory=dict)
    custom_properties: int = 0
    patterns_fast: int = 0
    patterns_slow: int = 0


# --- checker building blocks ---------------------------------------------------------
#
# A checker takes one JSON value and returns None, or (code, sub-pointer, message)
# for the first fault found in it. The sub-pointer is relative to the value.

Err = tuple[str, str, str]
Check = Callable[[Any], "Err | None"]


class _Stop(Exception):
    """Enough problems collected."""


class _Ctx:
    __slots__ = (
        "custom_properties",
        "custom_types",
        "limit",
        "patterns_fast",
        "patterns_slow",
        "problems",
        "slow_chars",
        "types",
    )

    def __init__(self, limit: int | None) -> None:
        self.problems: list[Problem] = []
        self.limit = limit
        self.types: Counter[str] = Counter()
        self.custom_types: Counter[str] = Counter()
        self.custom_properties = 0
        self.patterns_fast = 0
        self.patterns_slow = 0
        self.slow_chars = 0

    def add(self, code: str, pointer: str, message: str) -> None:
        self.problems.append(Problem(code, pointer, message))
        if self.limit is not None and len(self.problems) >= self.limit:
            raise _Stop


def _v(message: str, sub: str = "") -> Err:
    return ("stix.value", sub, message)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _sub(key: str | int) -> str:
    return "/" + (str(key) if isinstance(key, int) else pointer_escape(key))


def c_str(v: Any) -> Err | None:
    return None if isinstance(v, str) else _v(f"{show(v)} is not a string")


def c_bool(v: Any) -> Err | None:
    return None if isinstance(v, bool) else _v(f"{show(v)} is not a boolean")


def c_any(v: Any) -> Err | None:
    return None


def c_int(lo: int | None = None, hi: int | None = None) -> Check:
    def check(v: Any) -> Err | None:
        if not _is_int(v):
            return _v(f"{show(v)} is not an integer")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return _v(f"{v} is outside {lo}..{hi}")
        return None

    return check


def c_num(lo: float | None = None, hi: float | None = None) -> Check:
    def check(v: Any) -> Err | None:
        if not _is_num(v):
            return _v(f"{show(v)} is not a number")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            return _v(f"{v} is outside {lo}..{hi}")
        return None

    return check


def c_list(item: Check, *, min_items: int = 1) -> Check:
    def check(v: Any) -> Err | None:
        if not isinstance(v, list):
            return _v(f"{show(v)} is not a list")
        if len(v) < min_items:
            return _v(
                "empty lists are not allowed"
                if min_items == 1
                else f"at least {min_items} items are required"
            )
        for i, x in enumerate(v):
            e = item(x)
            if e is not None:
                return (e[0], f"/{i}{e[1]}", e[2])
        return None

    return check


def c_strs(v: Any) -> Err | None:
    if not isinstance(v, list):
        return _v(f"{show(v)} is not a list of strings")
    if not v:
        return _v("empty lists are not allowed")
    for i, x in enumerate(v):
        if not isinstance(x, str):
            return _v(f"{show(x)} is not a string", f"/{i}")
    return None


def c_strs0(v: Any) -> Err | None:
    """A list of strings that may be empty (nested, where the schema allows it)."""
    if not isinstance(v, list):
        return _v(f"{show(v)} is not a list of strings")
    for i, x in enumerate(v):
        if not isinstance(x, str):
            return _v(f"{show(x)} is not a string", f"/{i}")
    return None


def c_enum(*values: str) -> Check:
    allowed = frozenset(values)
    listing = ", ".join(values)

    def check(v: Any) -> Err | None:
        if isinstance(v, str) and v in allowed:
            return None
        return ("stix.vocab", "", f"{show(v)} is not one of: {listing}")

    return check


def c_regex(rx: re.Pattern[str], what: str) -> Check:
    def check(v: Any) -> Err | None:
        if not isinstance(v, str):
            return _v(f"{show(v)} is not a string")
        if rx.match(v) is None:
            return _v(f"{show(v)} is not {what}")
        return None

    return check


def c_search(rx: re.Pattern[str], what: str, *, negate: bool = False) -> Check:
    """A JSON-schema ``pattern`` (search semantics), or its negation."""

    def check(v: Any) -> Err | None:
        if not isinstance(v, str):
            return _v(f"{show(v)} is not a string")
        if (rx.search(v) is None) != negate:
            return _v(f"{show(v)} {what}")
        return None

    return check


def c_ts(v: Any) -> Err | None:
    if timestamp_fraction(v) >= 0:
        return None
    return ("stix.timestamp", "", timestamp_error(v) or "not a timestamp")


def c_ts_ms(v: Any) -> Err | None:
    if timestamp_fraction(v) >= 3:
        return None
    return ("stix.timestamp", "", timestamp_error(v, millis=True) or "not a timestamp")


def c_ts_whole(v: Any) -> Err | None:
    if timestamp_fraction(v) == 0:
        return None
    return ("stix.timestamp", "", timestamp_error(v, whole_seconds=True) or "not a timestamp")


c_hex = c_regex(HEX_RE, "hexadecimal (an even number of hex digits)")
c_bin = c_regex(BINARY_RE, "base64-encoded")


def c_uri(v: Any) -> Err | None:
    if not isinstance(v, str):
        return _v(f"{show(v)} is not a string")
    if not is_uri(v):
        return _v(f"{show(v)} is not an absolute URI (RFC 3986)")
    return None


def c_ref(types: Iterable[str] | None = None, *, exclude: Iterable[str] = ()) -> Check:
    """An identifier; with ``types``, of one of those types; never of ``exclude``."""
    allowed = frozenset(types) if types is not None else None
    banned = frozenset(exclude)
    what = " or ".join(sorted(allowed)) if allowed else ""
    seen_ok: set[str] = set()  # bulk data repeats created_by_ref, marking refs, ...

    def check(v: Any) -> Err | None:
        if type(v) is str and v in seen_ok:
            return None
        if not isinstance(v, str):
            return ("stix.reference", "", f"{show(v)} is not an identifier")
        m = IDENTIFIER_RE.match(v)
        if m is None:
            return ("stix.reference", "", f"{show(v)} is not an identifier (type--uuid)")
        t = m.group(1)
        if (allowed is not None and t not in allowed) or t in banned:
            if allowed is not None:
                return ("stix.reference", "", f"{show(v)} must refer to a {what} object")
            return ("stix.reference", "", f"{show(v)} may not refer to a {t} object")
        if len(seen_ok) >= 4096:
            seen_ok.clear()
        seen_ok.add(v)
        return None

    return check


def c_refs(types: Iterable[str] | None = None, *, exclude: Iterable[str] = ()) -> Check:
    return c_list(c_ref(types, exclude=exclude))


def c_forbidden(why: str) -> Check:
    def check(v: Any) -> Err | None:
        return ("stix.property", "", why)

    return check


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


def _pattern_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    pattern = obj.get("pattern")
    if obj.get("pattern_type") != "stix" or not isinstance(pattern, str):
        return
    too_large = _patterns.size_error(pattern)
    if too_large is not None:
        ctx.add("stix.pattern_too_large", ptr + "/pattern", too_large)
        return
    version = obj.get("pattern_version", obj.get("spec_version", "2.1"))
    if version == "2.1" and _patterns.fast_valid(pattern, SCO_PROPERTY_NAMES):
        ctx.patterns_fast += 1
        return
    ctx.patterns_slow += 1
    ctx.slow_chars += len(pattern)
    if ctx.slow_chars > _patterns.SLOW_PATTERN_BUDGET:
        ctx.add("stix.pattern_too_large", ptr + "/pattern",
                f"the bundle's patterns outside the simple forms are over "
                f"{_patterns.SLOW_PATTERN_BUDGET} characters in all")
        return
    errors = _patterns.slow_errors(pattern, str(version), SCO_PROPERTY_NAMES)
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

_SPECS_LIST: list[_Spec] = [
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


# --- SCOs ------------------------------------------------------------------------


def c_hostname(v: Any) -> Err | None:
    if not isinstance(v, str):
        return _v(f"{show(v)} is not a string")
    if not is_hostname(v):
        return _v(f"{show(v)} is not a domain name")
    return None


def c_ipv6(v: Any) -> Err | None:
    if not isinstance(v, str):
        return _v(f"{show(v)} is not a string")
    if not is_ipv6(v):
        return _v(f"{show(v)} is not an IPv6 address or CIDR block")
    return None


c_email = c_regex(EMAIL_RE, "an e-mail address")
c_ipv4 = c_regex(IPV4_RE, "an IPv4 address or CIDR block")
c_mac = c_regex(MAC_RE, "a MAC address (lower-case, colon-separated)")
_INT = c_int()
_UINT = c_int(0)
_HOSTS = ("ipv4-addr", "ipv6-addr", "mac-addr", "domain-name")

_ENCODING_NAME_RE = re.compile(r"[a-zA-Z0-9/.+_:-]{2,250}\Z")
_MIME_RE = re.compile(
    r"^(?:application|audio|font|image|message|model|multipart|text|video)/"
    r"[a-zA-Z0-9.+_-]+"
)
_CPE_RE = re.compile(
    r"cpe:2\.3:[aho*\-](:(((\?*|\*?)([a-zA-Z0-9\-._]|(\\[\\*?!\"#$$%&'()+,/:;<=>@\[\]^`{|}~]))+"
    r"(\?*|\*?))|[*\-])){5}(:(([a-zA-Z]{2,3}(-([a-zA-Z]{2}|[0-9]{3}))?)|[*\-]))"
    r"(:(((\?*|\*?)([a-zA-Z0-9\-._]|(\\[\\*?!\"#$$%&'()+,/:;<=>@\[\]^`{|}~]))+(\?*|\*?))|[*\-])){4}"
)
_SOFTWARE_LANG_RE = re.compile(
    r"(?:[a-z]{2}(?:-[A-Z]{2})?(?:-[a-z]{4})?(?:-[A-Z]{2}|[0-9]{3})?"
    r"(?:-[a-z0-9]{5,8}|[0-9][a-z0-9]{3})*(?:-[a-z0-9]{1,8})*|[a-z]{3})\Z"
)
_REGISTRY_ABBREVIATION_RE = re.compile(r"^HKLM|HKCC|HKCR|HKCU|HKU|hklm|hkcc|hkcr|hkcu|hku\Z")
_HEADER_FIELD_IS_PROPERTY_RE = re.compile(
    r"^date|received_lines|content_type|from_ref|sender_ref|to_refs|cc_refs|bcc_refs|subject\Z"
)


def c_header_value(v: Any) -> Err | None:
    if isinstance(v, str):
        return None
    if isinstance(v, list) and len(v) >= 2 and all(isinstance(x, str) for x in v):
        return None
    return _v(f"{show(v)} is not a string or a list of two or more strings")


_header_dictionary = c_dictionary(c_header_value)


def c_additional_header_fields(v: Any) -> Err | None:
    e = _header_dictionary(v)
    if e is not None:
        return e
    if all(_HEADER_FIELD_IS_PROPERTY_RE.search(k) for k in v):
        return ("stix.property", "", "these header fields have their own email-message properties")
    return None


def _one_of_required(a: str, b: str, inner: Check) -> Check:
    def check(v: Any) -> Err | None:
        e = inner(v)
        if e is not None:
            return e
        if (a in v) == (b in v):
            return ("stix.required", "", f"exactly one of {a}, {b} is required")
        return None

    return check


c_mime_part = _one_of_required(
    "body",
    "body_raw_ref",
    c_object(
        {
            "body": _S,
            "body_raw_ref": c_ref(("artifact", "file")),
            "content_type": _S,
            "content_disposition": _S,
        }
    ),
)
c_registry_value = c_object(
    {
        "name": _S,
        "data": _S,
        "data_type": c_enum(
            "REG_NONE",
            "REG_SZ",
            "REG_EXPAND_SZ",
            "REG_BINARY",
            "REG_DWORD",
            "REG_DWORD_BIG_ENDIAN",
            "REG_DWORD_LITTLE_ENDIAN",
            "REG_LINK",
            "REG_MULTI_SZ",
            "REG_RESOURCE_LIST",
            "REG_FULL_RESOURCE_DESCRIPTION",
            "REG_RESOURCE_REQUIREMENTS_LIST",
            "REG_QWORD",
            "REG_INVALID_TYPE",
        ),
    },
    any_of=("name", "data", "data_type"),
)

_OPTIONAL_HEADER: dict[str, Check] = {
    "magic_hex": c_hex,
    "major_linker_version": _INT,
    "minor_linker_version": _INT,
    "size_of_code": _UINT,
    "size_of_initialized_data": _UINT,
    "size_of_uninitialized_data": _UINT,
    "address_of_entry_point": _INT,
    "base_of_code": _INT,
    "base_of_data": _INT,
    "image_base": _INT,
    "section_alignment": _INT,
    "file_alignment": _INT,
    "major_os_version": _INT,
    "minor_os_version": _INT,
    "major_image_version": _INT,
    "minor_image_version": _INT,
    "major_subsystem_version": _INT,
    "minor_subsystem_version": _INT,
    "win32_version_value_hex": c_hex,
    "size_of_image": _UINT,
    "size_of_headers": _UINT,
    "checksum_hex": c_hex,
    "subsystem_hex": c_hex,
    "dll_characteristics_hex": c_hex,
    "size_of_stack_reserve": _UINT,
    "size_of_stack_commit": _UINT,
    "size_of_heap_reserve": _UINT,
    "size_of_heap_commit": _UINT,
    "loader_flags_hex": c_hex,
    "number_of_rva_and_sizes": _INT,
    "hashes": c_hashes,
}
_PE_FIELDS = (
    "imphash",
    "machine_hex",
    "number_of_sections",
    "time_date_stamp",
    "pointer_to_symbol_table_hex",
    "number_of_symbols",
    "size_of_optional_header",
    "characteristics_hex",
    "file_header_hashes",
    "optional_header",
    "sections",
)

_EXIF_KEY_RE = re.compile(r"^[A-Z][a-zA-Z0-9_-]+\Z")


def c_str_or_int(v: Any) -> Err | None:
    return None if isinstance(v, str) or _is_int(v) else _v(f"{show(v)} is not a string or integer")


FILE_EXTENSIONS: dict[str, Check] = {
    "ntfs-ext": c_object(
        {
            "sid": _S,
            "alternate_data_streams": c_list(
                c_object({"name": _S, "hashes": c_hashes, "size": _UINT}, required=("name",)),
                min_items=0,
            ),
        },
        any_of=("sid", "alternate_data_streams"),
    ),
    "raster-image-ext": c_object(
        {
            "image_height": _INT,
            "image_width": _INT,
            "bits_per_pixel": _INT,
            "exif_tags": c_dictionary(c_str_or_int, key_rx=_EXIF_KEY_RE),
        },
        any_of=(
            "image_height",
            "image_width",
            "bits_per_pixel",
            "image_compression_algorithm",
            "exif_tags",
        ),
    ),
    "pdf-ext": c_object(
        {
            "version": _S,
            "is_optimized": c_bool,
            "document_info_dict": c_dictionary(c_str),
            "pdfid0": _S,
            "pdfid1": _S,
        },
        any_of=("version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"),
    ),
    "archive-ext": c_object(
        {"contains_refs": c_refs(("file", "directory")), "comment": _S}, required=("contains_refs",)
    ),
    "windows-pebinary-ext": c_object(
        {
            "pe_type": _S,
            "imphash": _S,
            "machine_hex": c_hex,
            "number_of_sections": _UINT,
            "time_date_stamp": c_ts_whole,
            "pointer_to_symbol_table_hex": c_hex,
            "number_of_symbols": _UINT,
            "size_of_optional_header": _UINT,
            "characteristics_hex": c_hex,
            "file_header_hashes": c_hashes,
            "optional_header": c_object(_OPTIONAL_HEADER, closed=True, min_props=1),
            "sections": c_list(
                c_object(
                    {"name": _S, "size": _UINT, "entropy": c_num(), "hashes": c_hashes},
                    required=("name",),
                )
            ),
        },
        required=("pe_type",),
        any_of=_PE_FIELDS,
    ),
}

_SOCKET_OPTION_RE = re.compile(r"^(?:SO|ICMP|ICMP6|IP|IPV6|MCAST|TCP|IRLMP)(?:_[A-Z]+)+\Z")
NETWORK_TRAFFIC_EXTENSIONS: dict[str, Check] = {
    "http-request-ext": c_object(
        {
            "request_method": _S,
            "request_value": _S,
            "request_version": _S,
            "request_header": c_dictionary(c_strs0, key_rx=re.compile(r".")),
            "message_body_length": _INT,
            "message_body_data_ref": c_ref(("artifact",)),
        },
        required=("request_method", "request_value"),
    ),
    "icmp-ext": c_object(
        {"icmp_type_hex": c_hex, "icmp_code_hex": c_hex},
        required=("icmp_type_hex", "icmp_code_hex"),
    ),
    "socket-ext": c_object(
        {
            "address_family": c_enum(
                "AF_UNSPEC",
                "AF_INET",
                "AF_IPX",
                "AF_APPLETALK",
                "AF_NETBIOS",
                "AF_INET6",
                "AF_IRDA",
                "AF_BTH",
            ),
            "is_blocking": c_bool,
            "is_listening": c_bool,
            "options": c_dictionary(_INT, key_rx=_SOCKET_OPTION_RE),
            "socket_type": c_enum(
                "SOCK_STREAM", "SOCK_DGRAM", "SOCK_RAW", "SOCK_RDM", "SOCK_SEQPACKET"
            ),
            "socket_descriptor": _UINT,
            "socket_handle": _INT,
        },
        required=("address_family",),
    ),
    "tcp-ext": c_object(
        {"src_flags_hex": c_hex, "dst_flags_hex": c_hex}, any_of=("src_flags_hex", "dst_flags_hex")
    ),
}

_STARTUP_STR_RE = re.compile(
    r"^lpDesktop|lpTitle|dwFillAttribute|dwFlags|wShowWindow|hStdInput|hStdOutput|hStdError\Z"
)
_STARTUP_NULL_RE = re.compile(r"^lpReserved|lpReserved2\Z")
_STARTUP_INT_RE = re.compile(r"^cb|dwX|dwY|dwXSize|dwYSize|dwXCountChars|dwYCountChars\Z")
_STARTUP_ZERO_RE = re.compile(r"^cbReserved2\Z")
_startup_dictionary = c_dictionary()


def c_startup_info(v: Any) -> Err | None:
    e = _startup_dictionary(v)
    if e is not None:
        return e
    for k, x in v.items():
        s, n, i, z = (
            _STARTUP_STR_RE.search(k),
            _STARTUP_NULL_RE.search(k),
            _STARTUP_INT_RE.search(k),
            _STARTUP_ZERO_RE.search(k),
        )
        if not (s or n or i or z):
            return ("stix.property", _sub(k), f"{show(k)} is not a STARTUPINFO member")
        if (s and not isinstance(x, str)) or n or ((i or z) and not _is_int(x)) or (z and x != 0):
            return _v(f"{show(x)} is not valid for STARTUPINFO {k}", _sub(k))
    return None


PROCESS_EXTENSIONS: dict[str, Check] = {
    "windows-process-ext": c_object(
        {
            "aslr_enabled": c_bool,
            "dep_enabled": c_bool,
            "priority": _S,
            "owner_sid": _S,
            "window_title": _S,
            "startup_info": c_startup_info,
            "integrity_level": c_enum("low", "medium", "high", "system"),
        },
        any_of=(
            "aslr_enabled",
            "dep_enabled",
            "priority",
            "owner_sid",
            "window_title",
            "startup_info",
        ),
    ),
    "windows-service-ext": c_object(
        {
            "service_name": _S,
            "descriptions": c_strs,
            "display_name": _S,
            "group_name": _S,
            "start_type": c_enum(
                "SERVICE_AUTO_START",
                "SERVICE_BOOT_START",
                "SERVICE_DEMAND_START",
                "SERVICE_DISABLED",
                "SERVICE_SYSTEM_ALERT",
            ),
            "service_dll_refs": c_refs(("file",)),
            "service_type": c_enum(
                "SERVICE_KERNEL_DRIVER",
                "SERVICE_FILE_SYSTEM_DRIVER",
                "SERVICE_WIN32_OWN_PROCESS",
                "SERVICE_WIN32_SHARE_PROCESS",
            ),
            "service_status": c_enum(
                "SERVICE_CONTINUE_PENDING",
                "SERVICE_PAUSE_PENDING",
                "SERVICE_PAUSED",
                "SERVICE_RUNNING",
                "SERVICE_START_PENDING",
                "SERVICE_STOP_PENDING",
                "SERVICE_STOPPED",
            ),
        },
        any_of=(
            "service_name",
            "descriptions",
            "display_name",
            "group_name",
            "start_type",
            "service_dll_refs",
            "service_type",
            "service_status",
        ),
    ),
}

USER_ACCOUNT_EXTENSIONS: dict[str, Check] = {
    "unix-account-ext": c_object(
        {"gid": c_num(), "groups": c_strs, "home_dir": _S, "shell": _S},
        any_of=("gid", "groups", "home_dir", "shell"),
    ),
}


def _artifact_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    payload, url = "payload_bin" in obj, "url" in obj
    if payload == url or (url and "hashes" not in obj):
        ctx.add(
            "stix.required", ptr, "an artifact has either payload_bin, or url together with hashes"
        )
    if "decryption_key" in obj and "encryption_algorithm" not in obj:
        ctx.add(
            "stix.required",
            ptr + "/encryption_algorithm",
            "decryption_key needs encryption_algorithm",
        )


def _email_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    multipart = obj.get("is_multipart")
    if multipart is True and "body" in obj:
        ctx.add("stix.property", ptr + "/body", "a multipart message has body_multipart, not body")
    elif multipart is False and "body_multipart" in obj:
        ctx.add("stix.property", ptr + "/body_multipart", "body_multipart needs is_multipart: true")


def _network_traffic_rule(ctx: _Ctx, obj: dict[str, Any], ptr: str) -> None:
    if obj.get("is_active") is True and "end" in obj:
        ctx.add("stix.property", ptr + "/end", "active traffic (is_active: true) has no end")


_UA_FIELDS = (
    "extensions",
    "user_id",
    "credential",
    "account_login",
    "account_type",
    "display_name",
    "is_service_account",
    "is_privileged",
    "can_escalate_privs",
    "is_disabled",
    "account_created",
    "account_expires",
    "credential_last_changed",
    "account_first_login",
    "account_last_login",
)
_X509_FIELDS = (
    "is_self_signed",
    "hashes",
    "version",
    "serial_number",
    "signature_algorithm",
    "issuer",
    "validity_not_before",
    "validity_not_after",
    "subject",
    "subject_public_key_algorithm",
    "subject_public_key_modulus",
    "subject_public_key_exponent",
    "x509_v3_extensions",
)
_X509_V3: dict[str, Check] = {
    k: _S
    for k in (
        "basic_constraints",
        "name_constraints",
        "policy_constraints",
        "key_usage",
        "extended_key_usage",
        "subject_key_identifier",
        "authority_key_identifier",
        "subject_alternative_name",
        "issuer_alternative_name",
        "subject_directory_attributes",
        "crl_distribution_points",
        "inhibit_any_policy",
        "certificate_policies",
        "policy_mappings",
    )
}
_X509_V3["private_key_usage_period_not_before"] = c_ts
_X509_V3["private_key_usage_period_not_after"] = c_ts

_SPECS_LIST += [
    _sco(
        "artifact",
        {
            "mime_type": c_search(_MIME_RE, "is not a MIME type"),
            "payload_bin": c_bin,
            "url": c_uri,
            "hashes": c_hashes,
            "encryption_algorithm": c_enum(
                "AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"
            ),
            "decryption_key": _S,
        },
        [],
        [_artifact_rule, _uuid4_unless("hashes", "payload_bin")],
    ),
    _sco("autonomous-system", {"number": _INT, "name": _S, "rir": _S}, ["number"]),
    _sco(
        "directory",
        {
            "path": _S,
            "path_enc": c_regex(_ENCODING_NAME_RE, "a character set name"),
            "ctime": c_ts,
            "mtime": c_ts,
            "atime": c_ts,
            "contains_refs": c_refs(("file", "directory")),
        },
        ["path"],
    ),
    _sco(
        "domain-name",
        {
            "value": c_hostname,
            "resolves_to_refs": c_refs(("ipv4-addr", "ipv6-addr", "domain-name")),
        },
        ["value"],
    ),
    _sco(
        "email-addr",
        {"value": c_email, "display_name": _S, "belongs_to_ref": c_ref(("user-account",))},
        ["value"],
    ),
    _sco(
        "email-message",
        {
            "is_multipart": c_bool,
            "date": c_ts,
            "content_type": _S,
            "from_ref": c_ref(("email-addr",)),
            "sender_ref": c_ref(("email-addr",)),
            "to_refs": c_refs(("email-addr",)),
            "cc_refs": c_refs(("email-addr",)),
            "bcc_refs": c_refs(("email-addr",)),
            "message_id": _S,
            "subject": _S,
            "received_lines": c_strs,
            "additional_header_fields": c_additional_header_fields,
            "body": _S,
            "body_multipart": c_list(c_mime_part),
            "raw_email_ref": c_ref(("artifact",)),
        },
        ["is_multipart"],
        [_email_rule, _uuid4_unless("from_ref", "subject", "body")],
    ),
    _sco(
        "file",
        {
            "extensions": c_sco_extensions(FILE_EXTENSIONS),
            "hashes": c_hashes,
            "size": _UINT,
            "name": _S,
            "name_enc": c_regex(_ENCODING_NAME_RE, "a character set name"),
            "magic_number_hex": c_hex,
            "mime_type": _S,
            "ctime": c_ts,
            "mtime": c_ts,
            "atime": c_ts,
            "parent_directory_ref": c_ref(("directory",)),
            "contains_refs": c_refs(),
            "content_ref": c_ref(("artifact",)),
        },
        [],
        [_require_any("hashes", "name")],
    ),
    _sco(
        "ipv4-addr",
        {
            "value": c_ipv4,
            "resolves_to_refs": c_refs(("mac-addr",)),
            "belongs_to_refs": c_refs(("autonomous-system",)),
        },
        ["value"],
    ),
    _sco(
        "ipv6-addr",
        {
            "value": c_ipv6,
            "resolves_to_refs": c_refs(("mac-addr",)),
            "belongs_to_refs": c_refs(("autonomous-system",)),
        },
        ["value"],
    ),
    _sco("mac-addr", {"value": c_mac}, ["value"]),
    _sco("mutex", {"name": _S}, ["name"]),
    _sco(
        "network-traffic",
        {
            "extensions": c_sco_extensions(NETWORK_TRAFFIC_EXTENSIONS),
            "start": c_ts,
            "end": c_ts,
            "is_active": c_bool,
            "src_ref": c_ref(_HOSTS),
            "dst_ref": c_ref(_HOSTS),
            "src_port": c_int(0, 65535),
            "dst_port": c_int(0, 65535),
            "protocols": c_strs,
            "src_byte_count": _INT,
            "dst_byte_count": _INT,
            "src_packets": _INT,
            "dst_packets": _INT,
            "ipfix": c_dictionary(c_str_or_int),
            "src_payload_ref": c_ref(("artifact",)),
            "dst_payload_ref": c_ref(("artifact",)),
            "encapsulates_refs": c_refs(("network-traffic",)),
            "encapsulated_by_ref": c_ref(("network-traffic",)),
        },
        ["protocols"],
        [_require_any("src_ref", "dst_ref"), _network_traffic_rule, _order("end", ">=", "start")],
    ),
    _sco(
        "process",
        {
            "extensions": c_sco_extensions(PROCESS_EXTENSIONS),
            "is_hidden": c_bool,
            "pid": _INT,
            "created_time": c_ts,
            "cwd": _S,
            "command_line": _S,
            "environment_variables": c_dictionary(),
            "opened_connection_refs": c_refs(("network-traffic",)),
            "creator_user_ref": c_ref(("user-account",)),
            "image_ref": c_ref(("file",)),
            "parent_ref": c_ref(("process",)),
            "child_refs": c_refs(("process",)),
        },
        [],
        [
            _require_any(
                "extensions",
                "is_hidden",
                "pid",
                "name",
                "created",
                "cwd",
                "arguments",
                "command_line",
                "environment_variables",
                "opened_connection_refs",
                "creator_user_ref",
                "image_ref",
                "parent_ref",
                "child_refs",
            ),
            _uuid4_unless(),
        ],
    ),
    _sco(
        "software",
        {
            "name": _S,
            "cpe": c_search(_CPE_RE, "is not a CPE 2.3 name"),
            "swid": _S,
            "languages": c_list(c_regex(_SOFTWARE_LANG_RE, "a language code")),
            "vendor": _S,
            "version": _S,
        },
        ["name"],
    ),
    _sco("url", {"value": c_uri}, ["value"]),
    _sco(
        "user-account",
        {
            "extensions": c_sco_extensions(USER_ACCOUNT_EXTENSIONS),
            "user_id": _S,
            "credential": _S,
            "account_login": _S,
            "account_type": _S,
            "display_name": _S,
            "is_service_account": c_bool,
            "is_privileged": c_bool,
            "can_escalate_privs": c_bool,
            "is_disabled": c_bool,
            "account_created": c_ts,
            "account_expires": c_ts,
            "credential_last_changed": c_ts,
            "account_first_login": c_ts,
            "account_last_login": c_ts,
        },
        [],
        [_require_any(*_UA_FIELDS), _uuid4_unless("account_type", "user_id", "account_login")],
    ),
    _sco(
        "windows-registry-key",
        {
            "key": c_search(
                _REGISTRY_ABBREVIATION_RE,
                "uses an abbreviated hive name (write HKEY_LOCAL_MACHINE etc.)",
                negate=True,
            ),
            "values": c_list(c_registry_value),
            "modified_time": c_ts,
            "creator_user_ref": c_ref(("user-account",)),
            "number_of_subkeys": _INT,
        },
        [],
        [
            _require_any("key", "values", "modified", "creator_user_ref", "number_of_subkeys"),
            _uuid4_unless("key", "values"),
        ],
    ),
    _sco(
        "x509-certificate",
        {
            "is_self_signed": c_bool,
            "hashes": c_hashes,
            "version": _S,
            "serial_number": _S,
            "signature_algorithm": _S,
            "issuer": _S,
            "validity_not_before": c_ts,
            "validity_not_after": c_ts,
            "subject": _S,
            "subject_public_key_algorithm": _S,
            "subject_public_key_modulus": _S,
            "subject_public_key_exponent": _INT,
            "x509_v3_extensions": c_object(_X509_V3, any_of=tuple(_X509_V3)),
        },
        [],
        [_require_any(*_X509_FIELDS), _uuid4_unless("hashes", "serial_number")],
    ),
]


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
    objects = obj.get("objects")
    if not isinstance(objects, dict):
        return
    for key, sco in objects.items():
        p = f"{ptr}/objects{_sub(key)}"
        if not isinstance(sco, dict) or "type" not in sco:
            ctx.add("stix.object", p, "an observable object needs a type")
            continue
        _check_object(ctx, sco, p, embedded=objects)


_SPECS_LIST.append(
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


_SPECS_LIST.append(
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

_SPECS: dict[str, _Spec] = {s.type: s for s in _SPECS_LIST}
for _name in (*SDO_TYPES, *SRO_TYPES, "language-content", "extension-definition"):
    _s = _SPECS[_name]
    _SPECS[_name] = _Spec(
        _s.type,
        _s.kind,
        _s.props,
        ("created", "modified", *_s.required),
        _s.rules,
        _s.generic,
        _s.needs_spec_version,
    )

# intelligence beyond cyber: selectors and events (vigil.stix.intel_specs)
_SPECS.update({s.type: s for s in intel_specs.specs()})

_CUSTOM_OBJECT = _Spec(
    "",
    "custom",
    SDO_COMMON,
    ("created", "modified"),
    (_order("modified", ">=", "created"), _selectors_resolve),
)
_CUSTOM_SCO = _Spec(
    "", "custom-sco", SCO_COMMON, (), (_selectors_resolve,), needs_spec_version=False
)

SCO_PROPERTY_NAMES: dict[str, frozenset[str]] = {
    t: frozenset(("type", "id", *_SPECS[t].props)) - frozenset(_RESERVED) for t in SCO_TYPES
}
"""Property names of each standard SCO type (used by the pattern checks)."""

_EMBEDDED_REF_TABLE: dict[str, dict[str, tuple[str, ...]]] = {
    "directory": {"contains_refs": ("file", "directory")},
    "domain-name": {"resolves_to_refs": ("ipv4-addr", "ipv6-addr", "domain-name")},
    "email-addr": {"belongs_to_ref": ("user-account",)},
    "email-message": {
        "from_ref": ("email-addr",),
        "sender_ref": ("email-addr",),
        "to_refs": ("email-addr",),
        "cc_refs": ("email-addr",),
        "bcc_refs": ("email-addr",),
        "raw_email_ref": ("artifact",),
    },
    "file": {"parent_directory_ref": ("directory",), "content_ref": ("artifact",)},
    "ipv4-addr": {"resolves_to_refs": ("mac-addr",), "belongs_to_refs": ("autonomous-system",)},
    "ipv6-addr": {"resolves_to_refs": ("mac-addr",), "belongs_to_refs": ("autonomous-system",)},
    "network-traffic": {
        "src_ref": _HOSTS,
        "dst_ref": _HOSTS,
        "src_payload_ref": ("artifact",),
        "dst_payload_ref": ("artifact",),
        "encapsulates_refs": ("network-traffic",),
        "encapsulated_by_ref": ("network-traffic",),
    },
    "process": {
        "opened_connection_refs": ("network-traffic",),
        "creator_user_ref": ("user-account",),
        "image_ref": ("file",),
        "parent_ref": ("process",),
        "child_refs": ("process",),
    },
    "windows-registry-key": {"creator_user_ref": ("user-account",)},
}
"""Reference targets inside the deprecated observed-data ``objects`` (the same as the
reference validator's ``OBSERVABLE_PROP_REFS`` for top-level properties)."""


def _embedded_ref(key: str, value: Any, objects: dict[str, Any], sco_type: str) -> Err | None:
    """A reference inside the deprecated observed-data ``objects``: a key of ``objects``."""
    allowed = _EMBEDDED_REF_TABLE.get(sco_type, {}).get(key)
    refs = value if isinstance(value, list) else [value]
    if key.endswith("_refs") and not (isinstance(value, list) and value):
        return _v(f"{show(value)} is not a non-empty list")
    for i, ref in enumerate(refs):
        sub = f"/{i}" if isinstance(value, list) else ""
        target = objects.get(ref) if isinstance(ref, str) else None
        if not isinstance(target, dict):
            return ("stix.reference", sub, f"{show(ref)} is not a key of the observed objects")
        if allowed is not None and target.get("type") not in allowed:
            return (
                "stix.reference",
                sub,
                f"{show(ref)} must refer to a " + " or ".join(sorted(allowed)) + " object",
            )
    return None


# --- entry points ----------------------------------------------------------------------

_MISSING = object()


def _check_object(ctx: _Ctx, obj: Any, ptr: str, embedded: dict[str, Any] | None = None) -> None:
    if not isinstance(obj, dict):
        ctx.add("stix.object", ptr, f"{show(obj)} is not a STIX object")
        return
    t = obj.get("type")
    if not isinstance(t, str):
        if "type" not in obj:
            ctx.add("stix.required", ptr + "/type", "type is required")
        else:
            ctx.add("stix.type", ptr + "/type", f"{show(t)} is not an object type")
        return
    spec = _SPECS.get(t)
    if spec is None:
        if t == "bundle":
            ctx.add("stix.type", ptr + "/type", "a bundle may not contain a bundle")
            return
        if not 3 <= len(t) <= 250 or TYPE_RE.match(t) is None or t == "action":
            ctx.add(
                "stix.type",
                ptr + "/type",
                f"{show(t)} is not a valid object type (a-z, 0-9, -; 3-250 characters)",
            )
            return
        ctx.custom_types[t] += 1
        spec = _CUSTOM_SCO if ("created" not in obj and "modified" not in obj) else _CUSTOM_OBJECT
    ctx.types[t] += 1

    oid = obj.get("id", _MISSING)
    if oid is _MISSING:
        ctx.add("stix.required", ptr + "/id", "id is required")
    elif not isinstance(oid, str) or (m := IDENTIFIER_RE.match(oid)) is None:
        ctx.add("stix.id", ptr + "/id", f"{show(oid)} is not an identifier (type--uuid)")
    elif m.group(1) != t:
        ctx.add("stix.id", ptr + "/id", f"{show(oid)} does not start with {t}--")

    sv = obj.get("spec_version", _MISSING)
    if sv is _MISSING:
        if spec.needs_spec_version:
            ctx.add(
                "stix.spec_version",
                ptr + "/spec_version",
                "spec_version is missing: STIX 2.1 is required (STIX 2.0 is not accepted)",
            )
    elif sv != "2.1":
        ctx.add(
            "stix.spec_version",
            ptr + "/spec_version",
            f"spec_version {show(sv)} is not supported: STIX 2.1 is required",
        )

    props = spec.props
    generic = spec.generic
    for key, value in obj.items():
        chk = props.get(key)
        if chk is None:
            if key == "type" or key == "id":
                continue
            ctx.custom_properties += 1
            if not generic:
                continue
            err = custom_property(key, value)
        elif embedded is not None and (key.endswith("_ref") or key.endswith("_refs")):
            err = _embedded_ref(key, value, embedded, t)
        else:
            err = chk(value)
        if err is not None:
            ctx.add(err[0], ptr + _sub(key) + err[1], err[2])
    for r in spec.required:
        if r not in obj:
            ctx.add("stix.required", ptr + "/" + r, f"{r} is required")
    for rule in spec.rules:
        rule(ctx, obj, ptr)


def _check_bundle(ctx: _Ctx, bundle: Any) -> None:
    if not isinstance(bundle, dict):
        ctx.add("stix.bundle", "", "a STIX bundle must be a JSON object")
        return
    if bundle.get("type") != "bundle":
        ctx.add("stix.bundle", "/type", 'a STIX bundle has "type": "bundle"')
    bid = bundle.get("id")
    m = IDENTIFIER_RE.match(bid) if isinstance(bid, str) else None
    if m is None or m.group(1) != "bundle":
        ctx.add(
            "stix.bundle" if bid is None else "stix.id",
            "/id",
            f"{show(bid)} is not a bundle identifier (bundle--uuid)",
        )
    if "spec_version" in bundle and bundle["spec_version"] != "2.1":
        ctx.add(
            "stix.spec_version",
            "/spec_version",
            f"a bundle with spec_version {show(bundle['spec_version'])} is not STIX 2.1 "
            "(STIX 2.0 is not accepted)",
        )
    objects = bundle.get("objects")
    if not isinstance(objects, list) or not objects:
        ctx.add("stix.bundle", "/objects", "a STIX bundle needs a non-empty objects list")
        return
    for i, obj in enumerate(objects):
        _check_object(ctx, obj, f"/objects/{i}")


def check_bundle(bundle: Any, *, limit: int | None = None) -> list[Problem]:
    """Every problem of ``bundle`` (at most ``limit``), in document order of objects.
    An empty list means the bundle is valid STIX 2.1."""
    ctx = _Ctx(limit)
    with contextlib.suppress(_Stop):
        _check_bundle(ctx, bundle)
    return ctx.problems


def check_object(obj: Any, pointer: str = "") -> list[Problem]:
    """Every problem of one STIX object (``pointer``: where it sits in its document)."""
    ctx = _Ctx(None)
    _check_object(ctx, obj, pointer)
    return ctx.problems


def _raise(problems: list[Problem], limit: int) -> NoReturn:
    first = problems[0]
    detail: dict[str, Any] = {"problems": [p.to_dict() for p in problems[:limit]]}
    if len(problems) > limit:
        detail["truncated"] = True
    raise StixError(
        f"not valid STIX 2.1: {first.message}",
        code=first.code,
        pointer=first.pointer,
        detail=detail,
    )


def validate_object(obj: Any, pointer: str = "") -> None:
    """Raise :class:`StixError` for the first problem of one STIX object."""
    ctx = _Ctx(MAX_REPORTED + 1)
    with contextlib.suppress(_Stop):
        _check_object(ctx, obj, pointer)
    if ctx.problems:
        _raise(ctx.problems, MAX_REPORTED)


def validate_bundle(bundle: Any) -> ValidationReport:
    """Validate a parsed bundle; raise :class:`StixError` for its first problem (the
    error's ``detail["problems"]`` lists up to :data:`MAX_REPORTED`)."""
    ctx = _Ctx(MAX_REPORTED + 1)
    with contextlib.suppress(_Stop):
        _check_bundle(ctx, bundle)
    if ctx.problems:
        _raise(ctx.problems, MAX_REPORTED)
    return ValidationReport(
        objects=len(bundle["objects"]),
        types=dict(ctx.types),
        custom_types=dict(ctx.custom_types),
        custom_properties=ctx.custom_properties,
        patterns_fast=ctx.patterns_fast,
        patterns_slow=ctx.patterns_slow,
    )
