"""Observables: the comparable values inside STIX content, extracted and normalised.

An ``Observable`` is a ``(kind, value)`` pair whose value is in one canonical form, so
two shares that name the same thing in different spellings (``HXXP://Evil[.]Example``
and ``http://evil.example/``, ``bücher.example`` and ``xn--bcher-kva.example``) hold
the same observable. IP addresses and networks share the kind ``ip``: a single address
is written bare (``192.0.2.7``, ``2001:db8::1``), a network in CIDR form
(``192.0.2.0/24``); matching across them (an address inside a network) is the index's
job (``vigil.analysis.index``).

``extract(objects)`` reads indicator patterns (a fast path for ``[type:prop = 'v']``
comparisons joined by AND/OR, ``stix2-patterns`` for every other pattern) and
cyber-observable objects (STIX 2.1 SCOs, STIX 2.0 ``observed-data`` objects, and
MISP-STIX ``x-misp-object-*`` attributes).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import idna
import orjson

from vigil.params import decimal
from vigil.stix._patterns import WS as _WS
from vigil.stix._patterns import scan_simple

KINDS: tuple[str, ...] = (
    "ip", "domain", "url", "email", "md5", "sha1", "sha256", "sha512", "ssdeep", "tlsh",
    "asn", "wallet", "phone", "user-agent", "mutex", "regkey",
)  # fmt: skip
"""The kinds named in the documentation; other file-hash names become a kind of their
own (``sha224``, ``sha3256``, ``imphash``, ...)."""

MAX_VALUE = 1024  # normalised values longer than this (UTF-8 bytes) are not compared


class Observable(NamedTuple):
    """One comparable value: a kind and its normalised value (a tuple, so hashing and
    ordering are native)."""

    kind: str
    value: str

    @property
    def key(self) -> str:
        """``kind:value``: the one string an observable is compared, stored and keyed by."""
        return f"{self.kind}:{self.value}"

    @staticmethod
    def from_key(key: str) -> Observable:
        kind, _, value = key.partition(":")
        return Observable(kind, value)


# ---------------------------------------------------------------------------- refang

_REFANG = (
    ("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("(dot)", "."),
    ("[:]", ":"), ("[://]", "://"), ("[@]", "@"), ("[at]", "@"), ("(at)", "@"),
)  # fmt: skip
_SCHEME_FANG = re.compile(r"^(?:hxxp|hxx?p|h\[xx\]p|meow)(s?)(\[?:\]?//)", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


def refang(text: str) -> str:
    """Undo the usual defanging: ``[.]``, ``(.)``, ``[dot]``, ``[:]``, ``[at]``, ``hxxp``."""
    t = text.strip().strip("\u00a0\u200b\ufeff")
    if "[" in t or "(" in t or "{" in t:
        for a, b in _REFANG:
            t = t.replace(a, b)
    m = _SCHEME_FANG.match(t)
    if m is not None:
        t = f"http{m.group(1)}://" + t[m.end():]
    return t


# ------------------------------------------------------------------------ normalisers

_IPV4_CANON = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                         r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\Z")


def ip_value(text: str) -> str | None:
    """An address (bare) or a network (CIDR, host bits cleared; /32 and /128 bare)."""
    t = refang(text)
    if _IPV4_CANON.match(t):  # already in canonical form: the common case
        return t
    try:
        if "/" in t:
            net = ipaddress.ip_network(t, strict=False)
            if net.prefixlen == net.max_prefixlen:
                return str(net.network_address)
            return str(net)
        return str(ipaddress.ip_address(t))
    except ValueError:
        return None


_HOST_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
                      r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def host_value(text: str) -> str | None:
    """A host name lower-cased, IDN labels as punycode (IDNA 2008 with UTS 46), no
    trailing dot; None if it is not a host name."""
    t = refang(text).rstrip(".").lower()
    if not t:
        return None
    if not t.isascii():
        try:
            t = idna.encode(t, uts46=True).decode("ascii")
        except idna.IDNAError:
            try:
                t = t.encode("idna").decode("ascii")
            except UnicodeError:
                return None
    return t if _HOST_RE.match(t) else None


_PCT_RE = re.compile(r"%[0-9a-fA-F]{2}")
_IPV4_LIKE = re.compile(r"[0-9.]+\Z")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


_URL_SIMPLE = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
    r"(?P<rest>[/?][^#\s]*)?(?:#\S*)?\Z")


def _pct_upper(text: str) -> str:
    return _PCT_RE.sub(lambda m: m.group(0).upper(), text) if "%" in text else text


def url_value(text: str) -> str | None:
    """A URL in canonical form: refanged; scheme and host lower-case, host as punycode;
    no default port, no fragment, empty path as ``/``; percent-escapes upper-case.
    A URL without a scheme is taken as ``http://``."""
    t = refang(text)
    if not t or _SPACE.search(t):
        return None
    if "://" not in t:
        t = "http://" + t
    m = _URL_SIMPLE.match(t)
    if m is not None:  # the common shape, without urllib (same result)
        host = m.group("host").lower().rstrip(".")
        if _IPV4_CANON.match(host) or (_HOST_RE.match(host) and not _IPV4_LIKE.match(host)):
            scheme = m.group("scheme").lower()
            port = m.group("port")
            netloc = host
            if port is not None and _DEFAULT_PORTS.get(scheme) != int(port):
                if int(port) > 65535:
                    return None
                netloc = f"{host}:{int(port)}"
            rest = m.group("rest") or "/"
            if rest.startswith("?"):
                rest = "/" + rest
            if rest.endswith("?") and rest.count("?") == 1:
                rest = rest[:-1]
            return f"{scheme}://{netloc}{_pct_upper(rest)}"
    return _url_parsed(t)


def _url_parsed(t: str) -> str | None:
    """``url_value`` through urllib, for every shape (``t`` refanged, with a scheme)."""
    try:
        parts = urlsplit(t)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    hostname = parts.hostname or ""
    if not scheme or not hostname:
        return None
    ip = ip_value(hostname)
    if ip is not None and "/" not in ip:
        host = f"[{ip}]" if ":" in ip else ip
    else:
        h = host_value(hostname)
        if h is None:
            return None
        host = h
    netloc = host
    if parts.username is not None:
        cred = parts.username + (f":{parts.password}" if parts.password is not None else "")
        netloc = f"{cred}@{netloc}"
    if port is not None and _DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{netloc}:{port}"
    path = _PCT_RE.sub(lambda m: m.group(0).upper(), parts.path or "/")
    query = _PCT_RE.sub(lambda m: m.group(0).upper(), parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def email_value(text: str) -> str | None:
    t = refang(text)
    if t.startswith("mailto:"):
        t = t[7:]
    local, at, domain = t.rpartition("@")
    if not at or not local or _SPACE.search(local):
        return None
    host = host_value(domain)
    if host is None:
        return None
    return f"{local.lower()}@{host}"


_HEX_RE = re.compile(r"^[0-9a-f]+$")
_HASH_KIND = re.compile(r"[a-z0-9]{2,32}\Z")
_HEX_LEN = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


def hash_kind(name: str) -> str:
    """The kind of a STIX hash name: ``SHA-256`` -> ``sha256``, ``'SHA3-256'`` -> ``sha3256``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def hash_value(kind: str, text: str) -> str | None:
    t = text.strip()
    if not t:
        return None
    if kind == "ssdeep":
        return t  # base64 alphabet: case matters
    t = t.lower()
    want = _HEX_LEN.get(kind)
    if want is not None and (len(t) != want or not _HEX_RE.match(t)):
        return None
    return t


def asn_value(text: str | int) -> str | None:
    t = str(text).strip().upper().replace(" ", "")
    t = t.removeprefix("AS")
    n = decimal(t)
    return f"AS{n}" if n is not None and n < 2**32 else None


def wallet_value(text: str) -> str | None:
    t = text.strip()
    if not t or _SPACE.search(t):
        return None
    low = t.lower()
    # bech32 (bc1..., ltc1..., tb1...) and hex (0x...) addresses are case-insensitive;
    # base58 addresses are not.
    if low.startswith(("bc1", "tb1", "ltc1", "0x")):
        return low
    return t


def phone_value(text: str) -> str | None:
    t = text.strip()
    plus = t.startswith("+") or t.startswith("00")
    digits = re.sub(r"\D", "", t)
    if t.startswith("00"):
        digits = digits[2:]
    if not 4 <= len(digits) <= 17:
        return None
    return ("+" if plus else "") + digits


_HIVES = {
    "hklm": "hkey_local_machine", "hkcu": "hkey_current_user", "hkcr": "hkey_classes_root",
    "hku": "hkey_users", "hkcc": "hkey_current_config",
}  # fmt: skip


def regkey_value(text: str) -> str | None:
    t = text.strip().replace("/", "\\").lower()
    t = re.sub(r"\\+", r"\\", t).rstrip("\\")
    if not t:
        return None
    hive, sep, rest = t.partition("\\")
    return _HIVES.get(hive, hive) + sep + rest


def text_value(text: str) -> str | None:
    t = _SPACE.sub(" ", text.strip())
    return t or None


def normalise(kind: str, raw: Any) -> Observable | None:
    """The observable of a raw value of a known kind, or None if it is not one."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    if isinstance(raw, int):
        raw = str(raw)
    if len(raw) > 4 * MAX_VALUE or not raw.strip():
        return None
    value: str | None
    if kind == "ip":
        value = ip_value(raw)
    elif kind == "domain":
        ip = ip_value(raw)
        if ip is not None:
            return Observable("ip", ip)
        value = host_value(raw)
    elif kind == "url":
        value = url_value(raw)
    elif kind == "email":
        value = email_value(raw)
    elif kind == "asn":
        value = asn_value(raw)
    elif kind == "wallet":
        value = wallet_value(raw)
    elif kind == "phone":
        value = phone_value(raw)
    elif kind == "regkey":
        value = regkey_value(raw)
    elif kind in ("user-agent", "mutex"):
        value = text_value(raw)
    elif _HASH_KIND.match(kind):
        value = hash_value(kind, raw)
    else:
        return None
    if value is None or (len(value) * 4 > MAX_VALUE and len(value.encode()) > MAX_VALUE):
        return None
    return Observable(kind, value)


_EMAIL_GUESS = re.compile(r"^[^@\s]+@[^@\s]+$")
_ASN_GUESS = re.compile(r"^AS\s?\d+$", re.IGNORECASE)
_GUESS_HASH = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_WALLET_GUESS = re.compile(
    r"^(?:[13][a-km-zA-HJ-NP-Z1-9]{25,34}|bc1[a-z0-9]{25,62}|0x[0-9a-fA-F]{40})$"
)
_SSDEEP_GUESS = re.compile(r"^\d+:[a-zA-Z0-9/+]+:[a-zA-Z0-9/+]+$")
_TLSH_GUESS = re.compile(r"^(?:T1)?[0-9A-Fa-f]{70}$")


def guess(text: str) -> Observable | None:
    """The observable of a bare value typed by a user (``vigil search VALUE``): an IP
    address or network, URL, e-mail address, hash, ASN, wallet or domain, in that
    order. A value can be given as ``kind:value`` to choose the kind."""
    t = refang(text)
    if not t:
        return None
    head, sep, rest = t.partition(":")
    if sep and head in KINDS and rest:
        chosen = normalise(head, rest)
        if chosen is not None:
            return chosen
    if ip_value(t) is not None:
        return normalise("ip", t)
    if "://" in t:
        return normalise("url", t)
    for kind, test in (
        ("email", _EMAIL_GUESS),
        ("ssdeep", _SSDEEP_GUESS),
        ("tlsh", _TLSH_GUESS),
        ("asn", _ASN_GUESS),
        ("wallet", _WALLET_GUESS),
    ):
        if test.match(t):
            return normalise(kind, t)
    if _HEX_RE.match(t.lower()) and len(t) in _GUESS_HASH:
        return normalise(_GUESS_HASH[len(t)], t)
    if "/" not in t and "." in t:
        return normalise("domain", t)
    return None


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
