"""Checks of what a user or a client gives a node: names, themes, regions, TLP
markings and a client-signed header."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from vigil.errors import InputError
from vigil.model import (
    THEMES,
    ShareHeader,
    Tlp,
)
from vigil.node.bundle_pool import check_marking as marking_within

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
REGION_RE = re.compile(r"^([A-Z]{2}|[a-z][a-z0-9-]{1,31})$")
THEME_SUB_RE = re.compile(r"^[a-z0-9](?:[a-z0-9 ._+-]{0,62}[a-z0-9])?$")
# a client envelope's `created` must be this close to the node's clock (docs/protocol.md)
CREATED_PAST = timedelta(hours=24)
CREATED_AHEAD = timedelta(minutes=5)
MEDIA_TYPE = "application/stix+json;version=2.1"


def check_name(name: str, what: str) -> str:
    if not NAME_RE.match(name):
        raise InputError(
            f"{what} name {name!r} must be 1-63 of a-z 0-9 . _ - (starting alphanumeric)",
            code=f"input.{what}_name",
        )
    return name


def check_themes(themes: Iterable[str]) -> tuple[str, ...]:
    out = set()
    for i, t in enumerate(themes):
        t = t.strip().lower()
        top, _, sub = t.partition("/")
        if top not in THEMES or ("/" in t and not THEME_SUB_RE.match(sub)):
            raise InputError(
                f"unknown theme {t[:80]!r}; themes are {', '.join(THEMES)} (optionally "
                f"theme/sub, sub 1-64 of a-z 0-9 space . _ + -)",
                code="input.theme",
                pointer=f"/themes/{i}",
            )
        out.add(t)
    return tuple(sorted(out))


def check_marking(bundle: Mapping[str, Any], tlp: Tlp) -> None:
    """Refuse a share whose TLP is wider than a TLP marking on its objects."""
    marking_within(bundle.get("objects", []), tlp)


def check_client_header(h: ShareHeader, now: datetime) -> None:
    """What a client-signed header must hold beyond its format: themes and regions as
    the node itself would write them, and `created` near the node's clock."""
    if check_themes(h["themes"]) != tuple(h["themes"]):
        raise InputError("themes must be known themes, lower-case, sorted",
                         code="input.theme", pointer="/header/themes")
    if check_regions(h["regions"]) != tuple(h["regions"]):
        raise InputError("regions must be country codes or region names, sorted",
                         code="input.region", pointer="/header/regions")
    created = datetime.strptime(h["created"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    if not now - CREATED_PAST <= created <= now + CREATED_AHEAD:
        raise InputError(f"created {h['created']} is not within {CREATED_PAST} before and "
                         f"{CREATED_AHEAD} after the node's clock",
                         code="envelope.created", pointer="/header/created")


def region(text: str) -> str | None:
    """A country code (upper-cased) or a region name, or None if it is neither."""
    r = text.strip()
    if len(r) == 2:
        r = r.upper()
    return r if REGION_RE.match(r) else None


def check_regions(regions: Iterable[str]) -> tuple[str, ...]:
    out = set()
    for i, text in enumerate(regions):
        r = region(text)
        if r is None:
            raise InputError(
                f"region {text.strip()!r} must be an ISO 3166 country code or a region name",
                code="input.region",
                pointer=f"/regions/{i}",
            )
        out.add(r)
    return tuple(sorted(out))

