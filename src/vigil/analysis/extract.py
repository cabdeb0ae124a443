"""Observables read out of STIX content (``extract(objects)``, ``extract_bundle(raw)``).

Indicator patterns are read through a fast path for ``[type:prop = 'v']`` comparisons
joined by AND/OR, and ``stix2-patterns`` for every other pattern; cyber-observable
objects are STIX 2.1 SCOs, STIX 2.0 ``observed-data`` objects, and MISP-STIX
``x-misp-object-*`` attributes. Each value found is normalised
(``vigil.analysis.observables.normalise``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import orjson

from vigil.analysis.observables import Observable, hash_kind, normalise
from vigil.stix._patterns import WS as _WS
from vigil.stix._patterns import scan_simple

# ------------------------------------------------------------------ STIX path -> kind

_WALLET_TYPES = frozenset({"cryptocurrency-wallet", "x-cryptocurrency-wallet",
                           "x-crypto-wallet", "crypto-wallet"})
_PHONE_TYPES = frozenset({"phone-number", "x-phone-number", "telephone-number"})
_UA_TYPES = frozenset({"user-agent", "x-user-agent"})
_SIMPLE: dict[tuple[str, str], str] = {
    ("ipv4-addr", "value"): "ip",
    ("ipv6-addr", "value"): "ip",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
    ("email-addr", "value"): "email",
    ("autonomous-system", "number"): "asn",
    ("mutex", "name"): "mutex",
    ("windows-registry-key", "key"): "regkey",
}
_HASHED_TYPES = frozenset({"file", "artifact", "x509-certificate"})
# MISP attribute types (x-misp-object-<type>, x_misp_value) -> kind
_MISP_TYPES: dict[str, str] = {
    "btc": "wallet", "xmr": "wallet", "dash": "wallet", "bitcoin": "wallet",
    "cryptocurrency-address": "wallet", "wallet-address": "wallet",
    "phone-number": "phone", "whois-registrant-phone": "phone",
    "user-agent": "user-agent", "mutex": "mutex", "regkey": "regkey",
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain", "hostname": "domain",
    "url": "url", "link": "url", "email": "email", "email-src": "email", "email-dst": "email",
    "as": "asn", "md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha512": "sha512",
    "ssdeep": "ssdeep", "tlsh": "tlsh",
}  # fmt: skip


def kind_of(objtype: str, path: Sequence[Any]) -> str | None:
    """The kind of the value at ``objtype:path`` (path components as strings; list
    indexes as anything else), or None if vigil does not compare it."""
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return None
    first = names[0]
    if len(names) == 1:
        kind = _SIMPLE.get((objtype, first))
        if kind is not None:
            return kind
        if objtype in _WALLET_TYPES and first in ("address", "value"):
            return "wallet"
        if objtype in _PHONE_TYPES and first in ("value", "number"):
            return "phone"
        if objtype in _UA_TYPES and first in ("value", "string"):
            return "user-agent"
        return None
    if first == "hashes" and objtype in _HASHED_TYPES and len(names) == 2:
        return hash_kind(names[1])
    if objtype == "email-message" and first in ("from_ref", "sender_ref", "to_refs",
                                                "cc_refs", "bcc_refs") \
            and names[-1] == "value":
        return "email"
    if objtype == "network-traffic" and names[-1].lower() == "user-agent" \
            and "request_header" in names:
        return "user-agent"
    if objtype in ("network-traffic",) and names[0] in ("src_ref", "dst_ref") \
            and names[-1] == "value":
        return "ip"
    return None


# ---------------------------------------------------------------------------- patterns

_STR = r"'[^'\\]*(?:\\['\\][^'\\]*)*'"
_CMP_RE = re.compile(
    rf"{_WS}*(?P<type>[a-z][a-z0-9]*(?:-[a-z0-9]+)*):(?P<prop>[a-z_][a-z0-9_]*)"
    rf"(?:\.(?:(?P<hk>[A-Za-z][A-Za-z0-9]*)|'(?P<hq>[A-Za-z0-9][A-Za-z0-9-]*)'))?"
    rf"{_WS}*={_WS}*(?P<val>{_STR}|\d+)"
)
_UNESCAPE_RE = re.compile(r"\\(['\\])")
_LITERAL_RE = re.compile(rf"{_STR}|-?\d+(?:\.\d+)?")


def _literal(text: str) -> str:
    if text.startswith("'"):
        return _UNESCAPE_RE.sub(r"\1", text[1:-1])
    return text


_SINGLE_RE = re.compile(rf"{_WS}*\[{_CMP_RE.pattern}{_WS}*\]{_WS}*\Z")


def _fast(pattern: str) -> list[tuple[str, list[str], str]] | None:
    """``(type, path, value)`` of every ``=`` comparison if the pattern is one of the
    simple forms, else None."""
    found = scan_simple(pattern, _CMP_RE, _SINGLE_RE)
    if found is None:
        return None
    out: list[tuple[str, list[str], str]] = []
    for c in found:
        hname = c.group("hk") or c.group("hq")
        path = [c.group("prop")] if hname is None else [c.group("prop"), hname]
        out.append((c.group("type"), path, _literal(c.group("val"))))
    return out


_TAKEN_OPS = frozenset({"=", "IN", "ISSUBSET"})


def _slow(pattern: str) -> list[tuple[str, list[Any], str]]:
    from stix2patterns.v21.pattern import Pattern

    try:
        comparisons: Mapping[str, Any] = Pattern(pattern).inspect().comparisons
    except Exception:  # an invalid pattern holds no observable
        return []
    out: list[tuple[str, list[Any], str]] = []
    for objtype, expressions in comparisons.items():
        for path, op, value in expressions:
            if op not in _TAKEN_OPS:  # negations, LIKE, MATCHES, ranges
                continue
            literals = _LITERAL_RE.findall(value) if op == "IN" else [value]
            out.extend((objtype, list(path), _literal(v)) for v in literals)
    return out


# The commonest indicator patterns, written exactly so: "[<path> = '<value>']" with no
# quote or backslash in the value. Anything else goes through the regular expressions.
_QUICK_KINDS: dict[str, str] = {
    "ipv4-addr:value": "ip", "ipv6-addr:value": "ip", "domain-name:value": "domain",
    "url:value": "url", "email-addr:value": "email", "file:hashes.MD5": "md5",
    "file:hashes.'MD5'": "md5", "file:hashes.'SHA-1'": "sha1", "file:hashes.SHA1": "sha1",
    "file:hashes.'SHA-256'": "sha256", "file:hashes.SHA256": "sha256",
    "file:hashes.'SHA-512'": "sha512", "file:hashes.SHA512": "sha512",
}


def _quick(pattern: str) -> tuple[str, str] | None:
    if not (pattern.startswith("[") and pattern.endswith("']")):
        return None
    path, sep, value = pattern[1:-2].partition(" = '")
    kind = _QUICK_KINDS.get(path)
    if not sep or kind is None or "'" in value or "\\" in value:
        return None
    return kind, value


@functools.lru_cache(maxsize=1 << 16)
def from_pattern(pattern: str) -> tuple[Observable, ...]:
    """The observables a STIX pattern compares for equality (``=``, ``IN``, and
    ``ISSUBSET`` for networks); ``!=``, ``LIKE``, ``MATCHES`` and ranges name none.
    (Cached: the same indicator often comes back in the shares of several members.)"""
    quick = _quick(pattern)
    if quick is not None:
        obs = normalise(*quick)
        return () if obs is None else (obs,)
    found = _fast(pattern)
    comparisons = found if found is not None else _slow(pattern)
    out = []
    for objtype, path, value in comparisons:
        kind = kind_of(objtype, path)
        if kind is not None:
            obs = normalise(kind, value)
            if obs is not None:
                out.append(obs)
    return tuple(out)


# ------------------------------------------------------------------------------ objects


def _sco(obj: Mapping[str, Any], objects: Mapping[str, Any] | None) -> Iterator[Observable]:
    t = obj.get("type")
    if not isinstance(t, str):
        return
    for (otype, prop), kind in _SIMPLE.items():
        if otype == t and prop in obj:
            o = normalise(kind, obj[prop])
            if o is not None:
                yield o
    if t in _HASHED_TYPES:
        hashes = obj.get("hashes")
        if isinstance(hashes, Mapping):
            for name, value in hashes.items():
                o = normalise(hash_kind(str(name)), value)
                if o is not None:
                    yield o
    if t in _WALLET_TYPES:
        for prop in ("address", "value"):
            o = normalise("wallet", obj.get(prop))
            if o is not None:
                yield o
    if t in _PHONE_TYPES:
        for prop in ("value", "number"):
            o = normalise("phone", obj.get(prop))
            if o is not None:
                yield o
    if t in _UA_TYPES:
        for prop in ("value", "string"):
            o = normalise("user-agent", obj.get(prop))
            if o is not None:
                yield o
    if t == "network-traffic":
        ext = obj.get("extensions")
        http = ext.get("http-request-ext") if isinstance(ext, Mapping) else None
        headers = http.get("request_header") if isinstance(http, Mapping) else None
        if isinstance(headers, Mapping):
            for name, value in headers.items():
                if str(name).lower() == "user-agent":
                    o = normalise("user-agent", value)
                    if o is not None:
                        yield o
    if t.startswith("x-misp-object-"):
        misp_kind = _MISP_TYPES.get(t[len("x-misp-object-"):])
        if misp_kind is not None:
            o = normalise(misp_kind, obj.get("x_misp_value"))
            if o is not None:
                yield o
    if t == "observed-data" and isinstance(obj.get("objects"), Mapping):
        for inner in obj["objects"].values():  # STIX 2.0 embedded observables
            if isinstance(inner, Mapping):
                yield from _sco(inner, None)


def extract(objects: Iterable[Any]) -> list[Observable]:
    """Every observable of a list of STIX objects, each once, in the order found."""
    found: dict[Observable, None] = {}
    for obj in objects:
        if not isinstance(obj, dict) and not isinstance(obj, Mapping):
            continue
        if obj.get("type") == "indicator":
            pattern = obj.get("pattern")
            if isinstance(pattern, str) and obj.get("pattern_type", "stix") == "stix":
                for o in from_pattern(pattern):
                    found[o] = None
        else:
            for o in _sco(obj, None):
                found[o] = None
    return list(found)


def extract_bundle(raw: bytes) -> list[Observable]:
    """The observables of a serialised STIX bundle (or a single object); none if the
    bytes are not JSON."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    if isinstance(doc, Mapping) and doc.get("type") == "bundle":
        objs = doc.get("objects")
        return extract(objs if isinstance(objs, list) else [])
    return extract([doc])
