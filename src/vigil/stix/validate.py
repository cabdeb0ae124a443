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
import uuid
from typing import Any, NoReturn

from vigil.errors import StixError
from vigil.stix import intel_specs, strictjson
from vigil.stix._formats import (
    IDENTIFIER_RE,
    TYPE_RE,
    show,
)

__all__ = [
    "MAX_REPORTED",
    "ObjectChecker",
    "Problem",
    "ValidationReport",
    "check_bundle",
    "check_object",
    "validate_bundle",
    "validate_object",
]
from vigil.stix.checks import MAX_REPORTED, Err, Problem, ValidationReport, _Ctx, _Stop, _sub, _v
from vigil.stix.shapes import custom_property
from vigil.stix.spec_meta import (
    META_SPECS,
)
from vigil.stix.spec_sco import (
    _HOSTS,
    SCO_SPECS,
)
from vigil.stix.spec_sdo import (
    _RESERVED,
    SCO_COMMON,
    SCO_TYPES,
    SDO_COMMON,
    SDO_SPECS,
    SDO_TYPES,
    SRO_TYPES,
    _order,
    _selectors_resolve,
    _Spec,
)

_SPECS: dict[str, _Spec] = {s.type: s for s in (*SDO_SPECS, *SCO_SPECS, *META_SPECS)}
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


class ObjectChecker:
    """Checks objects one at a time as the objects of one bundle (or of one request):
    the reference grammar parses at most ``SLOW_PATTERN_BUDGET`` characters of patterns
    outside the simple forms in all, and each pattern past that is a problem of its
    object, as :func:`validate_bundle` does for a bundle."""

    def __init__(self) -> None:
        self._ctx = _Ctx(None)
        self._passed: dict[int, Any] = {}  # id() -> the object checked without a problem

    def check(self, obj: Any, pointer: str = "") -> list[Problem]:
        """Every problem of one object."""
        start = len(self._ctx.problems)
        _check_object(self._ctx, obj, pointer)
        if len(self._ctx.problems) == start:
            self._passed[id(obj)] = obj
            return []
        return self._ctx.problems[start:]

    def bundle(self, objects: list[dict[str, Any]]) -> ValidBundle | None:
        """A new bundle of ``objects``, written once and valid as it is written: each
        object is one this checker passed (or passes now), and the bytes read back as
        the same objects (:func:`strictjson.portable`). None when one of them is not
        valid: the bundle is then checked as any posted one. The objects must not
        change once checked (a changed copy is a new object, checked here)."""
        if not objects:
            return None
        for obj in objects:
            if self._passed.get(id(obj)) is not obj and self.check(obj):
                return None
        bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
        if not strictjson.portable(bundle):
            return None
        return ValidBundle(strictjson.dumps(bundle), bundle, _WRITTEN_HERE)


_WRITTEN_HERE = object()


class ValidBundle:
    """A bundle written in this process from objects vigil's validator passed: its bytes
    and what :func:`strictjson.loads` and :func:`validate_bundle` give for them. The
    publish path takes it without parsing or validating the bytes again; only
    :meth:`ObjectChecker.bundle` makes one (bytes a member posts are always parsed
    and validated)."""

    __slots__ = ("bundle", "raw")

    def __init__(self, raw: bytes, bundle: dict[str, Any], token: object) -> None:
        if token is not _WRITTEN_HERE:
            raise TypeError("a ValidBundle is made by ObjectChecker.bundle only")
        self.raw = raw
        self.bundle = bundle

    @property
    def objects(self) -> int:
        return len(self.bundle["objects"])


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
