"""Value formats used by STIX 2.1: identifiers, timestamps, URIs, hostnames, tags.

All regular expressions anchor with ``\\Z`` (true end of string). The OASIS JSON
schemas use ``$``, which in Python also accepts one trailing newline; vigil does not.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import unicodedata

# --- identifiers -------------------------------------------------------------------

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
IDENTIFIER_RE = re.compile(r"([a-z][a-z0-9-]+[a-z0-9])--(" + _UUID + r")\Z")
"""``type--uuid`` as in the STIX 2.1 JSON schema (UUID versions 1-5, RFC 4122 variant)."""

TYPE_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-?\Z")
"""Object type names (schema ``core.json``; 3-250 characters checked separately)."""

EXTENSION_DEFINITION_KEY_RE = re.compile(r"extension-definition--" + _UUID + r"\Z")
PREDEFINED_EXTENSION_KEY_RE = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-ext\Z")


def id_type(value: str) -> str | None:
    """The type part of a well-formed identifier, else ``None``."""
    m = IDENTIFIER_RE.match(value)
    return m.group(1) if m else None


def uuid_version(identifier: str) -> int:
    """Version nibble of the UUID of a well-formed identifier."""
    return int(identifier[identifier.index("--") + 16], 16)


# --- timestamps --------------------------------------------------------------------

TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\.[0-9]+)?Z\Z"
)


_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_VALID_TS: dict[str, int] = {}
"""Timestamps already found valid -> number of fractional-second digits. Bulk data
repeats the same few timestamps (created = modified = valid_from), so this turns most
timestamp checks into one dict lookup. Bounded; cleared when full."""
_VALID_TS_MAX = 8192


def timestamp_fraction(value: object) -> int:
    """Fractional-second digits of a valid STIX timestamp, or -1 if it is not one."""
    if type(value) is not str:
        return -1
    n = _VALID_TS.get(value)
    if n is not None:
        return n
    if timestamp_error(value) is not None:
        return -1
    frac = value[20:-1] if len(value) > 20 else ""
    if len(_VALID_TS) >= _VALID_TS_MAX:
        _VALID_TS.clear()
    _VALID_TS[value] = len(frac)
    return len(frac)


def timestamp_error(
    value: object, *, millis: bool = False, whole_seconds: bool = False
) -> str | None:
    """Why ``value`` is not a STIX timestamp (RFC 3339, UTC ``Z``), else ``None``.

    ``millis``: at least millisecond precision is required (``created``/``modified``).
    ``whole_seconds``: no fractional part allowed (PE ``time_date_stamp``).
    The calendar date must exist and leap seconds (``:60``) are refused, as the
    reference validator does by parsing with ``dateutil``."""
    if not isinstance(value, str):
        return f"{_show(value)} is not a timestamp string"
    m = TIMESTAMP_RE.match(value)
    if m is None:
        return f"{_show(value)} is not an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)"
    year, month, day, _h, _m, second, frac = m.groups()
    if millis and (frac is None or len(frac) < 4):
        return f"{_show(value)} must have at least millisecond precision"
    if whole_seconds and frac is not None:
        return f"{_show(value)} must not have fractional seconds"
    if year == "0000":
        return f"{_show(value)} is in year 0, which no calendar library accepts"
    d, mo = int(day), int(month)
    if d > _DAYS_IN_MONTH[mo] and not (mo == 2 and d == 29 and calendar.isleap(int(year))):
        return f"{_show(value)} is not a calendar date"
    if second == "60":
        return f"{_show(value)} has a leap second, which is not accepted"
    return None


def timestamp_cmp(a: str, b: str) -> int:
    """Compare two valid timestamps: -1, 0 or 1."""
    if len(a) == len(b):
        return (a > b) - (a < b)
    ka, kb = a[:19], b[:19]
    if ka != kb:
        return (ka > kb) - (ka < kb)
    fa, fb = a[20:-1] if len(a) > 20 else "", b[20:-1] if len(b) > 20 else ""
    width = max(len(fa), len(fb))
    fa, fb = fa.ljust(width, "0"), fb.ljust(width, "0")
    return (fa > fb) - (fa < fb)


# --- simple string formats ---------------------------------------------------------

BINARY_RE = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)\Z"
)
HEX_RE = re.compile(r"(?:[a-fA-F0-9]{2})+\Z")
IPV4_RE = re.compile(
    r"(?:(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}"
    r"(?:[0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])(?:/(?:3[0-2]|[1-2][0-9]|[0-9]))?\Z"
)
MAC_RE = re.compile(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\Z")
EMAIL_RE = re.compile(r"[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+\Z")
"""The reference validator's (deliberately simple) e-mail address check."""


def is_ipv6(value: str) -> bool:
    """An IPv6 address or CIDR block (``/0``-``/128``), including IPv4-embedded forms."""
    addr, slash, prefix = value.partition("/")
    if slash and not (
        prefix.isdigit()
        and prefix.isascii()
        and int(prefix) <= 128
        and (prefix == "0" or prefix[0] != "0")
    ):
        return False
    try:
        ipaddress.IPv6Address(addr)
    except ValueError:
        return False
    return True


# RFC 5646 language tag, well-formedness only (the registry is not consulted).
_LANG_RE = re.compile(
    r"""(?:
        [a-zA-Z]{2,3}(?:-[a-zA-Z]{3}){0,3}|[a-zA-Z]{4,8}     # language
      )
      (?:-[a-zA-Z]{4})?                                       # script
      (?:-(?:[a-zA-Z]{2}|[0-9]{3}))?                          # region
      (?:-(?:[a-zA-Z0-9]{5,8}|[0-9][a-zA-Z0-9]{3}))*          # variants
      (?:-[0-9a-wyzA-WYZ](?:-[a-zA-Z0-9]{2,8})+)*             # extensions
      (?:-[xX](?:-[a-zA-Z0-9]{1,8})+)?                        # private use
      \Z|[xX](?:-[a-zA-Z0-9]{1,8})+\Z|i-[a-zA-Z]{2,8}\Z       # private / grandfathered
    """,
    re.VERBOSE,
)


def is_language_tag(value: str) -> bool:
    return _LANG_RE.match(value) is not None


# --- URI (RFC 3986 "URI", as jsonschema's ``uri`` format via rfc3986-validator) ------

_UNRESERVED_SUB = r"a-zA-Z0-9\-._~!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
_URI_RE = re.compile(
    rf"""
    [a-zA-Z][a-zA-Z0-9+.\-]*:                               # scheme
    (?:
        //
        (?:(?:[{_UNRESERVED_SUB}:]|{_PCT})*@)?              # userinfo
        (?:\[(?P<ipl>[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[{_UNRESERVED_SUB}:]+)\]
          |(?:[{_UNRESERVED_SUB}]|{_PCT})*)                 # host
        (?::[0-9]*)?                                        # port
        (?:/{_PCHAR}*)*                                     # path-abempty
      | /(?:{_PCHAR}+(?:/{_PCHAR}*)*)?                      # path-absolute
      | {_PCHAR}+(?:/{_PCHAR}*)*                            # path-rootless
      |                                                     # path-empty
    )
    (?:\?(?:{_PCHAR}|[/?])*)?                               # query
    (?:\#(?:{_PCHAR}|[/?])*)?                               # fragment
    \Z""",
    re.VERBOSE,
)


def is_uri(value: str) -> bool:
    """An absolute URI per RFC 3986 (ASCII only; no spaces; ``[.]`` defanging fails)."""
    m = _URI_RE.match(value)
    if m is None:
        return False
    lit = m.group("ipl")
    if lit is not None and lit[:1] not in ("v", "V"):
        try:
            ipaddress.IPv6Address(lit)
        except ValueError:
            return False
    return True


# --- host names (IDNA 2008, as the ``idna`` package checks ``idn-hostname``) --------

_LDH_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z")


def _ascii_label_ok(label: str) -> bool:
    low = label.lower()
    if low.startswith("xn--"):
        if len(low) == 4 or low.endswith("-"):
            return False
        try:
            decoded = low[4:].encode("ascii").decode("punycode")
        except UnicodeError:
            return False
        return _unicode_label_ok(decoded)
    if _LDH_RE.match(low) is None:
        return False
    return not (len(low) >= 4 and low[2:4] == "--")


def _unicode_label_ok(label: str) -> bool:
    if not label or unicodedata.normalize("NFC", label) != label:
        return False
    if label[0] == "-" or label[-1] == "-" or (len(label) >= 4 and label[2:4] == "--"):
        return False
    if unicodedata.category(label[0]).startswith("M"):
        return False
    for ch in label:
        if ch.isascii():
            if not (ch.islower() or ch.isdigit() or ch == "-"):
                return False
        elif not (ch.isalnum() or unicodedata.category(ch) in ("Mn", "Mc")) or ch != ch.lower():
            return False
    try:
        encoded = label.encode("punycode")
    except UnicodeError:
        return False
    return len(encoded) + 4 <= 63


def is_hostname(value: str) -> bool:
    """An (internationalised) DNS host name: LDH labels of 1-63 octets, at most 253
    octets in all, one trailing dot allowed. ASCII labels follow IDNA 2008 exactly;
    non-ASCII labels are checked by a close approximation of its code point rules."""
    if not value:
        return False
    labels = value.split(".")
    if labels[-1] == "":
        labels.pop()
    if not labels:
        return False
    total = 0
    for label in labels:
        if not label:
            return False
        if label.isascii():
            if len(label) > 63 or not _ascii_label_ok(label):
                return False
            total += len(label) + 1
        else:
            if not _unicode_label_ok(label):
                return False
            total += len(label.encode("punycode")) + 5
    return total - 1 <= 253


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


show = _show
