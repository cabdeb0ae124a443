"""The form of a share header: every field, its type and its bounds.

:func:`check_header` checks a header's structure (not its signature) and raises
``envelope.malformed`` (InputError) with the JSON pointer of the first fault; the
small checks it is made of (:func:`fields`, :func:`string` …) serve the envelope's wire
form too (:mod:`vigil.protocol.envelope`). The format is stated in docs/protocol.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from vigil.crypto.keys import SIGN_ALGS, alg_of, is_key_id
from vigil.crypto.seal import SEAL_SUITES
from vigil.errors import InputError
from vigil.intel import evaluation as intel_evaluation
from vigil.intel import legal as intel_legal
from vigil.model import Form, Provenance, Tlp

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
MAX_SAFE_INT = 2**53 - 1

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
SHARE_ID_RE = re.compile(
    r"^share--[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)
MEMBER_ID_RE = re.compile(rf"^identity--{_UUID}$")
CHANNEL_ID_RE = re.compile(rf"^channel--{_UUID}$")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_MT_TOKEN = r"[a-z0-9][a-z0-9!#$&^_.+-]*"
MEDIA_TYPE_RE = re.compile(rf"^{_MT_TOKEN}/{_MT_TOKEN}(;{_MT_TOKEN}=[A-Za-z0-9_.+-]+)*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_TOKEN_LEN = 256
MAX_PURPOSE_LEN = 1024

_PROVENANCES: tuple[str, ...] = tuple(p.value for p in Provenance)
_FORMS: tuple[str, ...] = tuple(f.value for f in Form)
_TLPS: tuple[str, ...] = tuple(t.value for t in Tlp)
INTEL_FIELDS = {"evaluation": intel_evaluation.well_formed, "legal": intel_legal.well_formed}
BASE_FIELDS = frozenset(
    {
        "v", "kind", "id", "originator", "key", "provenance", "created", "expires",
        "audience", "handling", "themes", "regions", "payload",
    }
)  # fmt: skip



def malformed(pointer: str, message: str) -> InputError:
    return InputError(
        f"malformed envelope at {pointer or '/'}: {message}",
        code="envelope.malformed",
        pointer=pointer,
    )


def fields(obj: Any, pointer: str, required: set[str] | frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise malformed(pointer, "must be an object")
    for k in obj:
        if k not in required:
            token = str(k).replace("~", "~0").replace("/", "~1")
            raise malformed(f"{pointer}/{token}", "unknown field")
    for k in sorted(required):
        if k not in obj:
            raise malformed(f"{pointer}/{k}", "missing field")
    return obj


def string(v: Any, pointer: str, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
    if not isinstance(v, str):
        raise malformed(pointer, "must be a string")
    if pattern is not None and not pattern.fullmatch(v):
        raise malformed(pointer, f"must be {what}")
    return v


def token(v: Any, pointer: str, max_len: int = MAX_TOKEN_LEN) -> str:
    s = string(v, pointer)
    if not s or len(s) > max_len or _CONTROL_RE.search(s):
        raise malformed(pointer, f"must be 1..{max_len} characters without control characters")
    return s


def time_field(v: Any, pointer: str) -> str:
    s = string(v, pointer, TIME_RE, "RFC 3339 UTC with milliseconds (YYYY-MM-DDTHH:MM:SS.mmmZ)")
    try:  # of TIME_RE's one form, so fromisoformat (C) checks what strptime would
        datetime.fromisoformat(s)
    except ValueError as e:
        raise malformed(pointer, "not a valid date and time") from e
    return s


def sorted_list(v: Any, pointer: str, item: Any, *args: Any) -> list[str]:
    if not isinstance(v, list):
        raise malformed(pointer, "must be an array")
    out = [item(x, f"{pointer}/{i}", *args) for i, x in enumerate(v)]
    for i in range(1, len(out)):
        if out[i - 1] >= out[i]:
            raise malformed(f"{pointer}/{i}", "must be sorted (by code point) without duplicates")
    return out


def integer(v: Any, pointer: str, lo: int, hi: int) -> int:
    if type(v) is not int or not lo <= v <= hi:
        raise malformed(pointer, f"must be an integer in {lo}..{hi}")
    return v




def check_header(header: Any, pointer: str = "/header") -> None:
    """Check that ``header`` is a well-formed share header; raise ``envelope.malformed``
    (InputError, with the JSON pointer of the fault) otherwise. Checks structure only,
    not the signature."""
    h = header
    if not isinstance(h, Mapping):
        raise malformed(pointer, "must be an object")
    provenance = h.get("provenance")
    if "provenance" in h and provenance not in _PROVENANCES:
        raise malformed(f"{pointer}/provenance", 'must be "originator" or "attested"')
    payload = h.get("payload")
    form = payload.get("form") if isinstance(payload, Mapping) else None
    if isinstance(payload, Mapping) and "form" in payload and form not in _FORMS:
        raise malformed(f"{pointer}/payload/form", 'must be "plain" or "sealed"')
    want = set(BASE_FIELDS)
    if provenance == Provenance.ATTESTED.value:
        want.add("posted_by")
    if form == Form.SEALED.value:
        want.add("seal")
    want |= {k for k in INTEL_FIELDS if k in h}  # optional, signed when present
    fields(h, pointer, want)
    if type(h["v"]) is not int or h["v"] != 1:
        raise malformed(f"{pointer}/v", "must be 1")
    if h["kind"] != "share":
        raise malformed(f"{pointer}/kind", 'must be "share"')
    string(h["id"], f"{pointer}/id", SHARE_ID_RE, "share--<uuid4>")
    originator = string(h["originator"], f"{pointer}/originator", MEMBER_ID_RE, "identity--<uuid>")
    if not is_key_id(h["key"]) or alg_of(h["key"]) not in SIGN_ALGS:
        raise malformed(f"{pointer}/key", "must be an ed25519 or ed25519+mldsa65 key id")
    if "posted_by" in want:
        pb = fields(h["posted_by"], f"{pointer}/posted_by", {"member", "user"})
        member = string(pb["member"], f"{pointer}/posted_by/member", MEMBER_ID_RE,
                        "identity--<uuid>")
        if member != originator:
            raise malformed(f"{pointer}/posted_by/member", "must be the originator")
        token(pb["user"], f"{pointer}/posted_by/user")
    created = time_field(h["created"], f"{pointer}/created")
    if h["expires"] is not None and time_field(h["expires"], f"{pointer}/expires") <= created:
        raise malformed(f"{pointer}/expires", "must be later than created")

    p = f"{pointer}/audience"
    aud = fields(h["audience"], p, {"tlp", "channel", "recipients"})
    if aud["tlp"] not in _TLPS:  # a tuple: an unhashable value is simply not in it
        raise malformed(f"{p}/tlp", "must be one of " + ", ".join(t.value for t in Tlp))
    if aud["channel"] is not None:
        string(aud["channel"], f"{p}/channel", CHANNEL_ID_RE, "channel--<uuid> or null")
    sorted_list(aud["recipients"], f"{p}/recipients", string, MEMBER_ID_RE, "identity--<uuid>")

    p = f"{pointer}/handling"
    hd = fields(h["handling"], p, {"purpose", "no_onward", "codes"})
    if hd["purpose"] is not None:
        token(hd["purpose"], f"{p}/purpose", MAX_PURPOSE_LEN)
    if type(hd["no_onward"]) is not bool:
        raise malformed(f"{p}/no_onward", "must be true or false")
    sorted_list(hd["codes"], f"{p}/codes", token)
    sorted_list(h["themes"], f"{pointer}/themes", token)
    sorted_list(h["regions"], f"{pointer}/regions", token)
    for k, check in INTEL_FIELDS.items():
        fault = check(h[k]) if k in h else None
        if fault is not None:
            raise malformed(f"{pointer}/{k}", fault)

    p = f"{pointer}/payload"
    pl = fields(h["payload"], p, {"media_type", "form", "size", "digest"})
    string(pl["media_type"], f"{p}/media_type", MEDIA_TYPE_RE, "a media type")
    integer(pl["size"], f"{p}/size", 0, MAX_SAFE_INT)
    string(pl["digest"], f"{p}/digest", DIGEST_RE, "sha256:<64 hex digits>")
    if "seal" in want:
        p = f"{pointer}/seal"
        seal = fields(h["seal"], p, {"suite", "wraps_digest"})
        if not isinstance(seal["suite"], str) or seal["suite"] not in SEAL_SUITES:
            raise malformed(f"{p}/suite", "must be one of " + ", ".join(sorted(SEAL_SUITES)))
        string(seal["wraps_digest"], f"{p}/wraps_digest", DIGEST_RE, "sha256:<64 hex digits>")

