"""The common MISP attributes converted to STIX 2.1 without PyMISP or stix2 objects.

misp-stix loads every event with PyMISP and builds every STIX object as a stix2 object
(which checks each property) before it is serialised: several hundred µs per attribute.
For the attribute types most events are made of, :func:`fast_attribute` writes the same
objects straight as JSON objects, the way misp-stix's MISP -> STIX 2.1 parser writes
them: the same ids (the attribute's uuid; relationship ids are misp-stix's UUIDv5), the
same patterns (built by the parser's own pattern functions), labels, kill chain phases,
times and references, in the same order. The value goes through PyMISP's own attribute
normalisation and validation (``AttributeValidationTool``), as PyMISP's load does.

Only a plain attribute takes this path: a type of :data:`TYPES`, a uuid, a timestamp, a
category PyMISP accepts for the type, a boolean ``to_ids``, a value PyMISP validates; no
galaxies, sightings, analyst data, ``first_seen``/``last_seen`` or attachment. Its tags
(:func:`vigil.interop.misp_galaxies.plain_tags`: those PyMISP loads unchanged) become
labels, TLP markings and a confidence by misp-stix's own ``_handle_markings``.
Anything else (and every MISP object, galaxy and event report) stays misp-stix's and
PyMISP's (:mod:`vigil.interop.misp_parser` puts the two together, in the event's order).
``tests/interop/test_misp_fast.py`` checks the output equals misp-stix's on real events.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, Protocol

from vigil.interop.misp_galaxies import plain_tags

# the attribute types taken here (each as misp-stix 2.1 converts it)
IP = ("ip-src", "ip-dst")
IP_PORT = ("ip-src|port", "ip-dst|port")
# the hash types misp-stix's _parse_hash_attribute and _parse_hash_composite_attribute
# take (its MISPtoSTIX2Mapping): a file with that one hash
_COMPOSITE_HASHES = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512/224",
                     "sha512/256", "ssdeep", "authentihash", "imphash", "sha3-224",
                     "sha3-256", "sha3-384", "sha3-512", "tlsh", "vhash", "impfuzzy",
                     "pehash")
HASHES = frozenset({*_COMPOSITE_HASHES, "cdhash", "telfhash"})
FILENAME_HASHES = frozenset(f"filename|{k}" for k in _COMPOSITE_HASHES)
DOMAINS = ("domain", "hostname")
URLS = ("url", "uri", "link")
EMAILS = ("email", "email-src", "email-dst", "email-subject", "email-attachment")
TYPES = frozenset({*IP, *IP_PORT, *HASHES, *FILENAME_HASHES, *DOMAINS, *URLS, *EMAILS,
                   "filename", "domain|ip"})

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DIGITS = re.compile(r"[0-9]{1,12}")
# what makes an attribute misp-stix's: each needs misp-stix's handling
_NOT_PLAIN = ("Tag", "Galaxy", "Sighting", "Note", "Opinion", "Relationship",
              "ShadowAttribute", "SharingGroup", "first_seen", "last_seen", "data",
              "deleted")
_NOT_PLAIN_BUT_TAGS = tuple(k for k in _NOT_PLAIN if k != "Tag")
# numbers PyMISP's load reads with int() (a value it cannot read refuses the attribute)
_NUMBERS = ("id", "event_id", "sharing_group_id")


class Ready(dict[str, Any]):
    """A STIX object already written as JSON, which misp-stix's parser handles like one
    of its stix2 objects (it reads ``.id``)."""

    @property
    def id(self) -> str:
        return str(self["id"])


@dataclass(slots=True)
class Fast:
    """One attribute's objects, in misp-stix's order, and its relationship."""

    objects: list[Ready]
    sdos: list[Ready]  # those that name their creator (created_by_ref)
    relationship: Ready | None = None
    refs: list[str] = field(default_factory=list)
    tags: tuple[str, ...] = ()  # the attribute's tag names

    def mark(self, parser: Any) -> None:
        """The tags as labels, TLP markings and confidence, by misp-stix's own
        ``_handle_markings`` (the observed-data's, then the indicator's, as misp-stix
        does; called when the objects take their place in the event, for the markings
        to be registered in misp-stix's order)."""
        if self.tags:
            for obj in self.sdos:
                parser._handle_markings(obj, self.tags)


@cache
def _namespace() -> bytes:
    from misp_stix_converter.abstract import _UUIDv4

    return bytes(_UUIDv4.bytes)


# a character outside the Basic Multilingual Plane (4 bytes in UTF-8)
_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


def astral_to_question_mark(value: str) -> str:
    """PyMISP's ``_handle_4byte_unicode`` (every character above U+FFFF made ``?``)
    with one regular expression instead of a generator over every character."""
    return _ASTRAL.sub("?", value)


@cache
def _misp_tables() -> tuple[dict[str, frozenset[str]], Any]:
    from pymisp.abstract import describe_types
    from pymisp.tools.attributevalidationtool import AttributeValidationTool

    class Tool(AttributeValidationTool):
        # PyMISP's normalisation and checks, its per-character loop done by a regex
        _handle_4byte_unicode = staticmethod(astral_to_question_mark)

    # the table PyMISP's MISPAttribute checks a category against
    mapping = describe_types["category_type_mappings"]
    return ({k: frozenset(v) for k, v in mapping.items()}, Tool)


@lru_cache(maxsize=4096)
def _times(value: int | str) -> tuple[str, str] | None:
    """A MISP timestamp as stix2 writes it: to the millisecond (``created``,
    ``modified``) and to the second (``valid_from``, ``first_observed``)."""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        return None
    try:
        when = datetime.fromtimestamp(int(value), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if when.year < 1000:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(value: Any) -> tuple[str, str] | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    return _times(value)


def timestamp_of(value: Any) -> datetime | None:
    """A MISP timestamp as PyMISP loads it (None where :func:`_timestamp` refuses it)."""
    if _timestamp(value) is None:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _uuid5(namespace: bytes, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, without building UUID objects."""
    b = bytearray(hashlib.sha1(namespace + name.encode()).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def plain_fields(item: dict[str, Any]) -> bool:
    """A comment, distribution and numbers PyMISP loads as they are (an attribute's or
    an object's)."""
    comment = item.get("comment")
    if comment is not None and not isinstance(comment, str):
        return False
    dist = item.get("distribution")
    if dist is not None and str(dist) not in ("0", "1", "2", "3", "5"):
        return False  # 4 (a sharing group) needs PyMISP's check of the group's id
    for key in _NUMBERS:
        n = item.get(key)
        if n and not (isinstance(n, int) and not isinstance(n, bool)) and \
                not (isinstance(n, str) and _DIGITS.fullmatch(n)):
            return False
    return True


def plain_value(attribute: Any, types: frozenset[str] = TYPES) -> str | None:
    """The attribute's value as PyMISP loads it, or None when the attribute is not one
    this path takes (one of ``types``)."""
    if not isinstance(attribute, dict):
        return None
    kind, value, category = attribute.get("type"), attribute.get("value"), \
        attribute.get("category")
    if kind not in types or not isinstance(value, str) or not isinstance(category, str):
        return None
    for k in _NOT_PLAIN_BUT_TAGS:
        if attribute.get(k):
            return None
    if attribute.get("Tag") and plain_tags(attribute["Tag"]) is None:
        return None
    if not isinstance(attribute.get("uuid"), str) or not _UUID.fullmatch(attribute["uuid"]):
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
    return value if ok is True and isinstance(value, str) else None


def fast_attribute(parser: Any, attribute: dict[str, Any]) -> Fast | None:
    """The STIX objects misp-stix's ``parser`` makes of a plain attribute (None: not
    plain, or a value misp-stix handles its own way, such as a hash of the wrong
    length). ``created_by_ref`` is added when the event's identity is known
    (:func:`created_by`)."""
    value = plain_value(attribute)
    times = _timestamp(attribute.get("timestamp"))
    if value is None or times is None:
        return None
    try:
        return _build(parser, attribute, value, times)
    except Exception:  # misp-stix's own way: its error, its custom object
        return None


# what misp-stix gives a report or grouping (the event's container)
_CONTAINER_KEYS = frozenset({"id", "type", "created", "modified", "published", "name",
                             "labels", "created_by_ref", "object_refs", "context",
                             "object_marking_refs", "description", "allow_custom",
                             "interoperability"})


def container(args: dict[str, Any]) -> Ready | None:
    """The event's report or grouping as stix2 would write it from misp-stix's
    arguments (stix2 checks each of its references, one by one: thousands in a large
    event), or None for arguments other than the plain ones (stix2 then builds it)."""
    if not args.keys() <= _CONTAINER_KEYS or not args.get("object_refs"):
        return None
    out = Ready(type=args["type"], spec_version="2.1")
    for key, value in args.items():
        if key in ("allow_custom", "interoperability"):
            continue
        if isinstance(value, datetime):
            if value.microsecond or value.utcoffset() != UTC.utcoffset(None):
                return None
            out[key] = value.strftime("%Y-%m-%dT%H:%M:%S.000Z" if key != "published"
                                      else "%Y-%m-%dT%H:%M:%SZ")
        elif isinstance(value, str):
            out[key] = value
        elif isinstance(value, list) and value and all(isinstance(x, str) for x in value):
            out[key] = list(value)
        else:
            return None
    return out


class Made(Protocol):
    """What the direct paths made of one attribute or object."""

    sdos: list[Ready]


def created_by(fast: Made, identity: str | None) -> None:
    if identity is not None:
        for obj in fast.sdos:
            obj["created_by_ref"] = identity


@cache
def _file_hashes() -> Any:
    from stix2.v21 import File

    return File._properties["hashes"]


def _hashes(parser: Any, kind: str, value: str) -> dict[str, str] | None:
    """A file's ``hashes`` as misp-stix gives them to stix2 (its hash name, its check of
    the value) and stix2 writes them (its name of the algorithm, its check), or None
    where either refuses (misp-stix's own way then)."""
    name = parser._define_hash_type(kind)
    if not parser._check_hash_value(name, value):
        return None
    key = _HASH_KEYS.get(name)
    if key is None:
        try:
            hashes, _ = _file_hashes().clean({name: value}, True)
        except Exception:  # stix2 refuses it: misp-stix's error
            return None
        if list(hashes.values()) != [value]:
            return None
        key = _HASH_KEYS[name] = next(iter(hashes))
    return {key: value}


# misp-stix's hash name -> stix2's: stix2 names a hash by its name alone, and checks
# the value with the function and algorithm misp-stix's check has just used
# (``infer_hash_algorithm(name)`` is ``Hash[name]`` for each name here), so its
# answer for one value holds for every value that check passes
_HASH_KEYS: dict[str, str] = {}


def _sco(kind: str, uid: str, **props: Any) -> Ready:
    return Ready(type=kind, spec_version="2.1", id=f"{kind}--{uid}", **props)


def _scos(parser: Any, kind: str, uid: str, value: str) -> list[Ready] | None:
    """The observable objects of one attribute (misp-stix's
    ``_parse_*_attribute_observable``)."""
    if kind in IP:
        addr = "ipv6-addr" if ":" in value else "ipv4-addr"
        side = kind.split("-")[1]
        return [_sco("network-traffic", uid, **{f"{side}_ref": f"{addr}--{uid}"},
                     protocols=["tcp"]),
                _sco(addr, uid, value=value)]
    if kind in IP_PORT:
        if "|" not in value:
            return None
        ip, port = value.split("|")  # one "|" only: misp-stix's error otherwise
        if not parser._is_canonical_integer(port, signed=True) or \
                not 0 <= int(port) <= 65535:
            return None
        addr = "ipv6-addr" if ":" in ip else "ipv4-addr"
        side = kind.split("|")[0].split("-")[1]
        return [_sco("network-traffic", uid, **{f"{side}_ref": f"{addr}--{uid}",
                                                 f"{side}_port": int(port)},
                     protocols=["tcp"]),
                _sco(addr, uid, value=ip)]
    if kind in HASHES:
        hashes = _hashes(parser, kind, value)
        return None if hashes is None else [_sco("file", uid, hashes=hashes)]
    if kind in FILENAME_HASHES:
        if "|" not in value:
            return None
        name, digest = value.split("|")
        hashes = _hashes(parser, kind.split("|")[1], digest)
        return None if hashes is None else [_sco("file", uid, name=name, hashes=hashes)]
    if kind in DOMAINS:
        return [_sco("domain-name", uid, value=value)]
    if kind == "domain|ip":
        if "|" not in value:
            return None
        domain, ip = value.split("|")
        addr = "ipv6-addr" if ":" in ip else "ipv4-addr"
        return [_sco("domain-name", uid, value=domain, resolves_to_refs=[f"{addr}--{uid}"]),
                _sco(addr, uid, value=ip)]
    if kind in URLS:
        return [_sco("url", uid, value=value)]
    if kind == "filename":
        return [_sco("file", uid, name=value)]
    if kind == "email":
        return [_sco("email-addr", uid, value=value)]
    if kind == "email-src":
        return [_sco("email-message", uid, is_multipart=False,
                     from_ref=f"email-addr--{uid}"),
                _sco("email-addr", uid, value=value)]
    if kind == "email-dst":
        return [_sco("email-message", uid, is_multipart=False,
                     to_refs=[f"email-addr--{uid}"]),
                _sco("email-addr", uid, value=value)]
    if kind == "email-subject":
        return [_sco("email-message", uid, is_multipart=False, subject=value)]
    if kind == "email-attachment":
        return [_sco("email-message", uid, is_multipart=True,
                     body_multipart=[{"content_disposition":
                                      f"attachment; filename='{value}'",
                                      "body_raw_ref": f"file--{uid}"}]),
                _sco("file", uid, name=value)]
    return None


def _pattern(parser: Any, kind: str, value: str) -> str:
    """The indicator's pattern (misp-stix's ``_parse_*_attribute``)."""
    escaped = parser._handle_value_for_pattern(value)
    if kind in IP:
        return f"[{parser._create_ip_pattern(kind.split('-')[1], escaped)}]"
    if kind in IP_PORT:
        side = kind.split("|")[0].split("-")[1]
        ip, port = escaped.split("|")
        return (f"[{parser._create_ip_pattern(side, ip)} AND "
                f"{parser._create_port_pattern(port, ip_type=side)}]")
    if kind in HASHES:
        return f"[{parser._create_hash_pattern(kind, value)}]"
    if kind in FILENAME_HASHES:
        return f"[{parser._create_filename_hash_pattern(kind.split('|')[1], escaped, '|')}]"
    if kind in DOMAINS:
        return f"[{parser._create_domain_pattern(escaped)}]"
    if kind == "domain|ip":
        domain, ip = escaped.split("|")
        return (f"[{parser._create_domain_pattern(domain)} AND "
                f"{parser._create_domain_resolving_pattern(ip)}]")
    if kind in URLS:
        return f"[url:value = '{escaped}']"
    if kind == "filename":
        return f"[{parser._create_filename_pattern(escaped)}]"
    if kind == "email":
        return f"[email-addr:value = '{escaped}']"
    if kind == "email-src":
        return f"[email-message:from_ref.value = '{escaped}']"
    if kind == "email-subject":
        return f"[email-message:subject = '{escaped}']"
    if kind == "email-attachment":
        return f"[email-message:body_multipart[*].body_raw_ref.name = '{escaped}']"
    return f"[email-message:to_refs[*].value = '{escaped}']"  # email-dst


def _build(parser: Any, attribute: dict[str, Any], value: str,
           times: tuple[str, str]) -> Fast | None:
    kind, uid, category = attribute["type"], attribute["uuid"], attribute["category"]
    if (kind in IP_PORT or kind in FILENAME_HASHES or kind == "domain|ip") and \
            value.count("|") != 1:
        return None
    scos = _scos(parser, kind, uid, value)
    if scos is None:
        return None
    stamp, instant = times
    labels = [f'misp:type="{kind}"', f'misp:category="{category}"']
    observed = Ready(type="observed-data", spec_version="2.1", id=f"observed-data--{uid}",
                     created=stamp, modified=stamp, first_observed=instant,
                     last_observed=instant, number_observed=1,
                     object_refs=[o["id"] for o in scos], labels=list(labels))
    out = Fast([observed, *scos], [observed],
               tags=tuple(t["name"] for t in attribute.get("Tag") or ()))
    if attribute["to_ids"]:
        indicator = Ready(type="indicator", spec_version="2.1", id=f"indicator--{uid}",
                          created=stamp, modified=stamp)
        if attribute.get("comment"):
            indicator["description"] = attribute["comment"]
        indicator.update(pattern=_pattern(parser, kind, value), pattern_type="stix",
                         pattern_version="2.1", valid_from=instant,
                         kill_chain_phases=[{"kill_chain_name": "misp-category",
                                             "phase_name": category}],
                         labels=list(labels))
        out.objects.append(indicator)
        out.sdos.append(indicator)
        # misp-stix's relationship id: _create_v5_uuid (a UUIDv5 in its namespace)
        rel = _uuid5(_namespace(), f"{indicator['id']} - based-on - {observed['id']}")
        out.relationship = Ready(type="relationship", spec_version="2.1",
                                 id=f"relationship--{rel}", created=stamp, modified=stamp,
                                 relationship_type="based-on", source_ref=indicator["id"],
                                 target_ref=observed["id"])
    out.refs = [o["id"] for o in out.objects]
    return out
