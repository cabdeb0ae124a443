"""TAXII 2.1 media types: what a request may send and accept, and what we answer."""

from __future__ import annotations

from vigil.errors import VigilError

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
_TAXII_TYPES = frozenset({"application/taxii+json"})
_OBJECT_TYPES = frozenset({"application/taxii+json", "application/stix+json"})


def _parse(item: str) -> tuple[str, dict[str, str]]:
    kind, *params = (p.strip() for p in item.split(";"))
    out: dict[str, str] = {}
    for p in params:
        key, _, value = p.partition("=")
        out[key.strip().lower()] = value.strip().strip('"')
    return kind.lower(), out


def _ok(kind: str, params: dict[str, str], types: frozenset[str]) -> bool:
    if params.get("q") in ("0", "0.0", "0.00", "0.000"):
        return False
    if kind in ("*/*", "application/*"):
        return True
    return kind in types and params.get("version", "2.1") == "2.1"


def check_accept(accept: str | None, *, objects: bool = False) -> str:
    """The media type to answer with; refuse (406) an Accept header that admits no
    TAXII 2.1 (or, for object endpoints, STIX 2.1) media type. No header accepts
    anything. An object request that admits STIX 2.1 but not TAXII 2.1 is answered as
    STIX 2.1 (the same envelope, labelled as the client asked): taxii2-client refuses
    an answer whose type is not the one it accepted."""
    if not accept:
        return TAXII
    types = _OBJECT_TYPES if objects else _TAXII_TYPES
    admitted = [kind for kind, params in map(_parse, filter(str.strip, accept.split(",")))
                if _ok(kind, params, types)]
    if not admitted:
        raise VigilError(
            f"the Accept header {accept!r} admits no media type this endpoint answers "
            f"with; send Accept: {TAXII}",
            code="taxii.not_acceptable", status=406)
    if all(kind == "application/stix+json" for kind in admitted):
        return STIX
    return TAXII


def check_content_type(content_type: str | None) -> None:
    """Refuse (415) a body that is not declared as TAXII (or STIX) 2.1 JSON."""
    kind, params = _parse(content_type or "")
    if kind in _OBJECT_TYPES and params.get("version", "2.1") == "2.1":
        return
    raise VigilError(
        f"the Content-Type {content_type!r} is not {TAXII}",
        code="taxii.unsupported_media_type", status=415)
