"""IOC text in its common forms, abuse.ch CSV dumps (Feodo Tracker, ThreatFox) and plain
IOC lists -> STIX 2.1 indicators.

``refang`` undoes defanging with one table of forms (``FANGS``, shown in
docs/analysis.md); every part of vigil that reads a typed or pasted value uses it
(observables and search, the console, ``vigil import text``, the API). ``extract``
reads free text line by line and reports, per line, what it found and whether it
skipped the line; nothing is dropped without a word."""

from __future__ import annotations

import csv
import gzip
import io
import ipaddress
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vigil import clock
from vigil.params import decimal

_NS = uuid.UUID("6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_HASHES = {32: "MD5", 40: "SHA-1", 64: "SHA-256", 128: "SHA-512"}
_SSDEEP = re.compile(r"^\d+:[A-Za-z0-9/+]+:[A-Za-z0-9/+]+$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([^@\s]+)$")
_URL = re.compile(r"^(?:https?|ftps?|sftp)://", re.IGNORECASE)
_IP_PORT = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$|^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$")
_SPLIT = re.compile(r"[\s,;|\"'<>]+")
# a word that ends like a file name is not taken for a domain
_NOT_TLDS = frozenset({"exe", "dll", "bin", "dat", "doc", "docx", "xls", "xlsx", "pdf",
                       "txt", "js", "vbs", "ps1", "bat", "cmd", "scr", "tmp", "log", "lnk",
                       "jar", "py", "sh", "hta", "msi", "iso", "img", "rar", "7z", "gz"})


@dataclass(frozen=True, slots=True)
class Ioc:
    kind: str  # ipv4-addr, ipv6-addr, domain-name, url, email-addr, file-hash
    value: str
    hash_alg: str | None = None
    malware: str | None = None
    first_seen: str | None = None
    confidence: int | None = None
    source: str | None = None


# (defanged, plain) replaced anywhere in a value, in this order
FANGS: tuple[tuple[str, str], ...] = (
    ("[://]", "://"), ("[:]//", "://"), ("[:/]/", "://"),
    ("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("(dot)", "."),
    ("{dot}", "."), ("[DOT]", "."), ("(DOT)", "."), ("\\.", "."),
    ("[:]", ":"), ("[/]", "/"),
    ("[@]", "@"), ("(@)", "@"), ("{@}", "@"), ("[at]", "@"), ("(at)", "@"), ("{at}", "@"),
    ("[AT]", "@"), ("(AT)", "@"),
)  # fmt: skip
# defanged schemes at the start of a value: hxxp, hXXp, h[xx]p, h**p, meow -> http;
# fxp -> ftp (each with an optional s)
_SCHEME = re.compile(r"^(?:h(?:xx|\[xx\]|\*\*|__)p|meow|(fxp))(s?)(?=:|\[:)", re.IGNORECASE)
_INVISIBLE = "\u00a0\u200b\ufeff\u200c\u200d"


def refang(text: str) -> str:
    """Undo defanging (``FANGS`` and the defanged schemes)."""
    t = text.strip().strip(_INVISIBLE)
    if "[" in t or "(" in t or "{" in t or "\\" in t:
        for a, b in FANGS:
            if a in t:
                t = t.replace(a, b)
    if t[:1] in "hHmMfF":
        m = _SCHEME.match(t)
        if m is not None:
            t = ("ftp" if m.group(1) else "http") + m.group(2) + t[m.end():]
    return t


def _domain(text: str) -> str | None:
    """A domain name (trailing dot dropped, IDN as its A-label), or None."""
    import idna

    t = text.rstrip(".").lower()
    if not t or t.rpartition(".")[2] in _NOT_TLDS:
        return None
    if not t.isascii():
        try:
            t = idna.encode(t, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    return t if _DOMAIN.match(t) else None


def _ip(text: str) -> Ioc | None:
    try:
        if "/" in text:
            net = ipaddress.ip_network(text, strict=False)
            return Ioc("ipv4-addr" if net.version == 4 else "ipv6-addr", str(net))
        ip = ipaddress.ip_address(text)
        return Ioc("ipv4-addr" if ip.version == 4 else "ipv6-addr", str(ip))
    except ValueError:
        return None


def token_ioc(word: str) -> Ioc | None:
    """One word of free text (refanged here) as an IOC, or None."""
    v = refang(word).rstrip(",;:")
    m = _IP_PORT.match(v)
    if m:
        return _ip(m.group(1) or m.group(3))
    v = v.strip("()[]{}")
    if not v:
        return None
    if _URL.match(v):
        host = v.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        ok = _ip(host.strip("[]")) is not None or _domain(host) is not None
        return Ioc("url", v) if ok else None
    got = _ip(v)
    if got is not None:
        return got
    m = _EMAIL.match(v)
    if m:
        dom = _domain(m.group(1))
        return Ioc("email-addr", f"{v.rpartition('@')[0]}@{dom}") if dom else None
    if _SSDEEP.match(v):
        return Ioc("file-hash", v, "SSDEEP")
    if _HEX.match(v) and len(v) in _HASHES:
        return Ioc("file-hash", v.lower(), _HASHES[len(v)])
    if "/" in v:  # a URL without its scheme
        host = v.split("/", 1)[0]
        hp = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if _domain(hp) is not None or _ip(hp) is not None:
            return Ioc("url", "http://" + v)
        return None
    return Ioc("domain-name", d) if (d := _domain(v)) is not None else None


@dataclass(frozen=True, slots=True)
class Line:
    """What one line of a paste gave: the IOCs found in it, or why it was skipped."""

    number: int  # from 1
    text: str
    found: tuple[Ioc, ...]
    skipped: str | None  # None: something was found, or the line is blank or a comment

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.number, "text": self.text[:200],
                "found": [{"kind": i.kind, "value": i.value, "hash": i.hash_alg}
                          for i in self.found], "skipped": self.skipped}


def extract(text: str) -> list[Line]:
    """Every line of free text: the IOCs in it (in every form of ``FANGS``, with or
    without a scheme, with text around them), or the reason it was skipped."""
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            out.append(Line(n, raw, (), None))
            continue
        found: list[Ioc] = []
        for ioc in (token_ioc(w) for w in _SPLIT.split(line)):
            if ioc is not None and ioc not in found:
                found.append(ioc)
        out.append(Line(n, raw, tuple(found), None if found else
                        "no IP address, network, domain, URL, e-mail address or hash"))
    return out


def found_iocs(lines: Iterable[Line]) -> list[Ioc]:
    seen: list[Ioc] = []
    for line in lines:
        seen += [i for i in line.found if i not in seen]
    return seen


def classify(raw: str) -> Ioc | None:
    """One value from a plain list (refanged) -> an Ioc, or None if not recognised."""
    v = refang(raw)
    if not v or v.startswith("#"):
        return None
    try:
        ip = ipaddress.ip_address(v)
        return Ioc("ipv4-addr" if ip.version == 4 else "ipv6-addr", str(ip))
    except ValueError:
        pass
    if "://" in v:
        return Ioc("url", v)
    if _HEX.match(v) and len(v) in _HASHES:
        return Ioc("file-hash", v.lower(), _HASHES[len(v)])
    if _DOMAIN.match(v.lower()):
        return Ioc("domain-name", v.lower())
    return None


def _ts(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    try:
        return clock.parse_expiry(text.replace(" ", "T") + ("Z" if "T" not in text else ""))
    except Exception:
        return None


def _open(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def read_abusech(path: Path) -> Iterator[Ioc]:
    """Rows of a Feodo Tracker or ThreatFox CSV dump."""
    with _open(path) as f:
        header: list[str] | None = None
        for row in csv.reader(f, skipinitialspace=True):
            if not row:
                continue
            if row[0].startswith("#"):
                first = row[0].lstrip("# ").strip('"')
                if first == "first_seen_utc":
                    header = [first, *[c.strip('"') for c in row[1:]]]
                continue
            if header is None:
                header = row
                continue
            rec = dict(zip(header, row, strict=False))
            if "dst_ip" in rec:
                yield Ioc("ipv4-addr", rec["dst_ip"], malware=rec.get("malware") or None,
                          first_seen=_ts(rec.get("first_seen_utc", "")), source="feodotracker")
                continue
            value = rec.get("ioc_value", "")
            kind = rec.get("ioc_type", "")
            conf = rec.get("confidence_level", "")
            common = {"malware": rec.get("malware_printable") or None,
                      "first_seen": _ts(rec.get("first_seen_utc", "")),
                      "confidence": decimal(conf),
                      "source": "threatfox"}
            if kind == "sha256_hash":
                yield Ioc("file-hash", value.lower(), "SHA-256", **common)  # type: ignore[arg-type]
            elif kind == "md5_hash":
                yield Ioc("file-hash", value.lower(), "MD5", **common)  # type: ignore[arg-type]
            elif kind == "url":
                yield Ioc("url", value, **common)  # type: ignore[arg-type]
            elif kind == "domain":
                yield Ioc("domain-name", value.lower(), **common)  # type: ignore[arg-type]
            elif kind == "ip:port":
                yield Ioc("ipv4-addr", value.rsplit(":", 1)[0], **common)  # type: ignore[arg-type]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def pattern_for(ioc: Ioc) -> str:
    if ioc.kind == "file-hash":
        return f"[file:hashes.'{ioc.hash_alg}' = '{_quote(ioc.value)}']"
    return f"[{ioc.kind}:value = '{_quote(ioc.value)}']"


def indicator(ioc: Ioc, *, created_by: str | None = None, marking: str | None = None,
              stamp: str | None = None) -> dict[str, Any]:
    ts = stamp or clock.now()
    name = f"{ioc.malware} {ioc.kind}" if ioc.malware else ioc.kind
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(_NS, ioc.kind + ':' + ioc.value)}",
        "created": ts,
        "modified": ts,
        "name": f"{name}: {ioc.value}"[:250],
        "indicator_types": ["malicious-activity"],
        "pattern": pattern_for(ioc),
        "pattern_type": "stix",
        "valid_from": ioc.first_seen or ts,
    }
    if ioc.confidence is not None:
        obj["confidence"] = ioc.confidence
    if ioc.malware:
        obj["labels"] = [ioc.malware.lower().replace(" ", "-")]
    if created_by:
        obj["created_by_ref"] = created_by
    if marking:
        obj["object_marking_refs"] = [marking]
    return obj


def bundle(objects: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def indicators_bundle(iocs: Iterable[Ioc], *, created_by: str | None = None,
                      marking: str | None = None) -> dict[str, Any]:
    stamp = clock.now()
    seen: set[str] = set()
    objs = []
    for ioc in iocs:
        ind = indicator(ioc, created_by=created_by, marking=marking, stamp=stamp)
        if ind["id"] not in seen:
            seen.add(ind["id"])
            objs.append(ind)
    return bundle(objs)
