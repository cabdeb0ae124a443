"""A brute-force correlation reference, written apart from ``vigil.analysis``.

It reads every pattern through the ``stix2-patterns`` grammar (never a fast path),
normalises with a handful of literal rules, and compares every value of every share
with every value of every other share: equal values of one kind correlate, and so do
IP addresses and networks that overlap.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from stix2patterns.v21.pattern import Pattern

KINDS = frozenset({"ip", "domain", "url", "email", "md5", "sha1", "sha256", "sha512", "asn"})
_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA1": "sha1", "SHA-256": "sha256",
           "SHA256": "sha256", "SHA-512": "sha512", "SHA512": "sha512"}

Match = frozenset[tuple[str, str, str]]  # {(share, kind, value), (share, kind, value)}


def refang(v: str) -> str:
    v = v.strip().replace("[.]", ".").replace("(.)", ".").replace("[:]", ":")
    low = v.lower()
    if low.startswith("hxxp"):
        v = "http" + v[4:]
    return v


def canon(kind: str, raw: Any) -> str | None:
    """The reference's one spelling of a value (None: not comparable)."""
    v = refang(str(raw))
    try:
        if kind == "ip":
            return str(ipaddress.ip_network(v, strict=False))
        if kind == "domain":
            return v.rstrip(".").lower()
        if kind == "url":
            if "://" not in v:
                v = "http://" + v
            p = urlsplit(v)
            host = p.hostname or ""
            if ":" in host:
                host = f"[{host}]"
            port = p.port
            default = {"http": 80, "https": 443}.get(p.scheme.lower())
            netloc = host if port in (None, default) else f"{host}:{port}"
            return urlunsplit((p.scheme.lower(), netloc, p.path or "/", p.query, ""))
        if kind == "email":
            return v.lower()
        if kind == "asn":
            return "AS" + str(int(v.upper().removeprefix("AS")))
        return v.lower()  # hashes
    except ValueError:
        return None


def _kind(objtype: str, path: list[Any]) -> str | None:
    names = [p for p in path if isinstance(p, str)]
    if objtype in ("ipv4-addr", "ipv6-addr") and names == ["value"]:
        return "ip"
    if objtype == "domain-name" and names == ["value"]:
        return "domain"
    if objtype == "url" and names == ["value"]:
        return "url"
    if objtype == "email-addr" and names == ["value"]:
        return "email"
    if objtype == "email-message" and names[-1:] == ["value"]:
        return "email"
    if objtype == "autonomous-system" and names == ["number"]:
        return "asn"
    if objtype == "file" and len(names) == 2 and names[0] == "hashes":
        return _HASHES.get(names[1].upper())
    return None


def values(objects: Iterable[Mapping[str, Any]]) -> set[tuple[str, str]]:
    """(kind, value) of every comparable value in a list of STIX objects."""
    out: set[tuple[str, str]] = set()

    def put(kind: str | None, raw: Any) -> None:
        if kind is not None:
            v = canon(kind, raw)
            if v is not None:
                out.add((kind, v))

    for o in objects:
        t = o.get("type")
        if t == "indicator" and o.get("pattern_type") == "stix":
            comparisons = Pattern(o["pattern"]).inspect().comparisons
            for objtype, exprs in comparisons.items():
                for path, op, literal in exprs:
                    if op == "=":
                        text = literal[1:-1].replace("\\'", "'").replace("\\\\", "\\") \
                            if literal.startswith("'") else literal
                        put(_kind(objtype, path), text)
        elif t in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"):
            put(_kind(t, ["value"]), o.get("value"))
        elif t == "autonomous-system":
            put("asn", o.get("number"))
        elif t == "file":
            for name, h in (o.get("hashes") or {}).items():
                put(_HASHES.get(name.upper()), h)
    return out


def same(kind: str, a: str, b: str) -> bool:
    if kind == "ip":
        na, nb = ipaddress.ip_network(a), ipaddress.ip_network(b)
        return na.version == nb.version and na.overlaps(nb)
    return a == b


def correlations(shares: Mapping[str, set[tuple[str, str]]]) -> set[Match]:
    """Every pair of (share, value) in two different shares that correlate."""
    out: set[Match] = set()
    for a, b in combinations(sorted(shares), 2):
        for ka, va in shares[a]:
            for kb, vb in shares[b]:
                if ka == kb and same(ka, va, vb):
                    out.add(frozenset({(a, ka, va), (b, kb, vb)}))
    return out
