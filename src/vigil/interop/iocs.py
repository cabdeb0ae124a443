"""abuse.ch CSV dumps (Feodo Tracker, ThreatFox) and plain IOC lists -> STIX 2.1 indicators."""

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


@dataclass(frozen=True, slots=True)
class Ioc:
    kind: str  # ipv4-addr, ipv6-addr, domain-name, url, file-hash
    value: str
    hash_alg: str | None = None
    malware: str | None = None
    first_seen: str | None = None
    confidence: int | None = None
    source: str | None = None


def refang(text: str) -> str:
    return (text.strip().replace("[.]", ".").replace("(.)", ".").replace("[:]", ":")
            .replace("hxxps://", "https://").replace("hxxp://", "http://")
            .replace("[at]", "@"))


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
