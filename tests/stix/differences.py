"""The deliberate differences between vigil's STIX validator and the OASIS reference
validator (stix2-validator), each with its reason, and which one explains a disagreement
on an object (``tests/stix/test_stix_agreement.py`` checks them against the corpora,
``tests/fuzz/test_fuzz_validate.py`` against generated documents)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vigil.stix.validate import Problem


@dataclass(frozen=True)
class Difference:
    key: str
    vigil: str  # "rejects" or "accepts" (what vigil does where stix2-validator differs)
    reason: str
    applies: Callable[[dict[str, Any], list[Problem], str], bool]
    """(object, vigil's problems, stix2-validator's first error) -> explained?"""


def _all(problems: list[Problem], pred: Callable[[Problem], bool]) -> bool:
    return bool(problems) and all(pred(p) for p in problems)


def _has_newline_string(x: Any) -> bool:
    if isinstance(x, str):
        return x.endswith("\n")
    if isinstance(x, dict):
        return any(_has_newline_string(v) for v in x.values())
    if isinstance(x, list):
        return any(_has_newline_string(v) for v in x)
    return False


DIFFERENCES: list[Difference] = [
    Difference(
        "spec-version-2.0",
        "rejects",
        "An object saying spec_version '2.0' is STIX 2.0 content: vigil accepts STIX 2.1 "
        "only. stix2-validator with --version 2.1 lets its schema enum ['2.0', '2.1'] pass.",
        lambda o, ps, _: (
            o.get("spec_version") == "2.0" and _all(ps, lambda p: p.code == "stix.spec_version")
        ),
    ),
    Difference(
        "reference-not-identifier",
        "rejects",
        "The spec defines these properties as identifiers (SCO *_ref(s), malware sample_refs, "
        "email body_raw_ref, ...), but stix2-validator's schemas only say 'string'. vigil "
        "requires type--uuid. (Custom *_ref properties are NOT checked: MITRE ATT&CK puts '' "
        "there and Attack Flow puts technique ids.)",
        lambda o, ps, _: _all(
            ps, lambda p: p.code == "stix.reference" and "is not an identifier" in p.message
        ),
    ),
    Difference(
        "reference-target-type",
        "rejects",
        "Where the spec restricts what a reference points at and stix2-validator does not: "
        "created_by_ref -> identity, object_marking_refs -> marking-definition, "
        "sighting_of_ref -> an SDO (not an SCO), observed-data object_refs -> SCOs/SROs, and "
        "every SCO reference (src_ref -> ipv4/ipv6/mac/domain, from_ref -> email-addr, ...).",
        lambda o, ps, _: _all(
            ps,
            lambda p: (
                p.code == "stix.reference"
                and (
                    "must refer to" in p.message
                    or "may not refer" in p.message
                    or "refers to SCOs and SROs only" in p.message
                )
            ),
        ),
    ),
    Difference(
        "custom-type-id-prefix",
        "rejects",
        "The spec says id = '<type>--<uuid>' with <type> the object's exact type. "
        "stix2-validator checks that only for the types it has schemas for; vigil checks it "
        "for custom types too.",
        lambda o, ps, _: _all(
            ps, lambda p: p.code == "stix.id" and "does not start with" in p.message
        ),
    ),
    Difference(
        "extension-definition-created-by",
        "rejects",
        "STIX 2.1 section 7.3 makes created_by_ref required on an extension-definition; "
        "stix2-validator's schema does not.",
        lambda o, ps, _: (
            o.get("type") == "extension-definition"
            and _all(ps, lambda p: p.pointer == "/created_by_ref" and p.code == "stix.required")
        ),
    ),
    Difference(
        "trailing-newline",
        "rejects",
        "The JSON schemas anchor their patterns with '$', which in Python also matches before "
        "a final newline, so stix2-validator accepts e.g. a SHA-256 or a URL ending in '\\n'. "
        "vigil anchors at the true end of the string.",
        lambda o, ps, _: _has_newline_string(o),
    ),
    Difference(
        "language-code-lists",
        "accepts",
        "lang, language-content keys and software languages: vigil accepts every well-formed "
        "RFC 5646 tag (software: the schema's pattern). stix2-validator also requires the tag "
        "to be in its own fixed list of ~200 codes (no 'en-IN', no 'de-CH-1996').",
        lambda o, ps, why: not ps and ("RFC 5646" in why or "The 'languages' property" in why),
    ),
    Difference(
        "iana-registries",
        "accepts",
        "artifact mime_type and directory path_enc / file name_enc: vigil checks the syntax "
        "(the schema pattern); stix2-validator also looks them up in its bundled snapshot of "
        "the IANA registries (case-sensitive, so 'utf-8' fails there).",
        lambda o, ps, why: (
            not ps
            and any(f"The '{k}' property" in why for k in ("mime_type", "path_enc", "name_enc"))
        ),
    ),
    Difference(
        "cpe-parser",
        "accepts",
        "software cpe: vigil applies the schema's CPE 2.3 pattern; stix2-validator also runs "
        "the 'cpe' package's parser, which refuses some names the pattern allows.",
        lambda o, ps, why: not ps and "CPE" in why,
    ),
    Difference(
        "ipv6-schema-regex",
        "accepts",
        "ipv6-addr value: the schema's regular expression has typos (a literal 's*' and 'd' "
        "for '\\d'), so it refuses valid addresses with an embedded IPv4 part such as "
        "'::ffff:192.0.2.1'. vigil parses with the ipaddress module (plus an optional /prefix).",
        lambda o, ps, why: not ps and o.get("type") == "ipv6-addr" and "value:" in why,
    ),
    Difference(
        "timestamp-compare-over-6-digits",
        "accepts",
        "With more than 6 fractional digits stix2-validator compares timestamps as strings, "
        "so '...00.0000000Z' < '...00.000Z'. vigil compares the instants.",
        lambda o, ps, why: (
            not ps
            and "must be later than" in why
            and any(isinstance(v, str) and re.search(r"\.\d{7,}Z$", v) for v in o.values())
        ),
    ),
]


def _explain(obj: dict[str, Any], problems: list[Problem], why: str) -> Difference | None:
    vigil = "rejects" if problems else "accepts"
    for d in DIFFERENCES:
        if d.vigil == vigil and d.applies(obj, problems, why):
            return d
    return None
