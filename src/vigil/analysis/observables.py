"""Observables: the comparable values inside STIX content, normalised.

An ``Observable`` is a ``(kind, value)`` pair whose value is in one canonical form, so
two shares that name the same thing in different spellings (``HXXP://Evil[.]Example``
and ``http://evil.example/``, ``bücher.example`` and ``xn--bcher-kva.example``) hold
the same observable. IP addresses and networks share the kind ``ip``: a single address
is written bare (``192.0.2.7``, ``2001:db8::1``), a network in CIDR form
(``192.0.2.0/24``); matching across them (an address inside a network) is the index's
job (``vigil.analysis.index``).

``normalise(kind, raw)`` gives the observable of a raw value of a known kind, and
``guess(text)`` that of a bare value a user typed. Reading them out of STIX content
(indicator patterns and cyber-observable objects) is ``vigil.analysis.extract``.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import idna

from vigil.interop.iocs import refang
from vigil.params import decimal

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
# one table of defanged forms for all of vigil: vigil.interop.iocs.FANGS

_SPACE = re.compile(r"\s+")


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
_GUESS_HASH = {32: "md5", 40: "sha1", 56: "sha224", 64: "sha256", 96: "sha384",
               128: "sha512"}
_WALLET_GUESS = re.compile(
    r"^(?:[13][a-km-zA-HJ-NP-Z1-9]{25,34}|bc1[a-z0-9]{25,62}|0x[0-9a-fA-F]{40})$"
)
_SSDEEP_GUESS = re.compile(r"^\d+:[a-zA-Z0-9/+]+:[a-zA-Z0-9/+]+$")
_TLSH_GUESS = re.compile(r"^(?:T1)?[0-9A-Fa-f]{70}$")


def guess(text: str) -> Observable | None:
    """The observable of a bare value typed by a user (``vigil search VALUE``): an IP
    address or network, URL, hash (MD5, SHA-1, -224, -256, -384, -512 by length), e-mail
    address, ssdeep, TLSH, ASN, wallet or domain, in that order. A value can be given
    as ``kind:value`` to choose the kind."""
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
    # hash-looking values are hashes first: a bare MD5 that starts with 1 or 3 also
    # looks like a base58 Bitcoin address (give wallet:VALUE for the wallet)
    if _HEX_RE.match(t.lower()) and len(t) in _GUESS_HASH:
        return normalise(_GUESS_HASH[len(t)], t)
    for kind, test in (
        ("email", _EMAIL_GUESS),
        ("ssdeep", _SSDEEP_GUESS),
        ("tlsh", _TLSH_GUESS),
        ("asn", _ASN_GUESS),
        ("wallet", _WALLET_GUESS),
    ):
        if test.match(t):
            return normalise(kind, t)
    if "/" not in t and "." in t:
        return normalise("domain", t)
    return None
