"""vigil's STIX validator accepts and rejects exactly what the OASIS reference
validator (stix2-validator, STIX 2.1, default options: custom content accepted with
warnings) accepts and rejects, object by object, except for the deliberate
differences listed in DIFFERENCES below, each with its reason.

Two bodies of evidence:

* ~11,400 mutants of hand-written valid objects (``tests/stix/corpus.py``):
  every property dropped / nulled / emptied / retyped, timestamps, ids, references,
  types, spec versions, custom properties and 60 patterns varied;
* every object of the real corpora under ``shared/data`` (~48,700 objects: MITRE
  ATT&CK Enterprise/ICS/Mobile, OASIS examples and validator test inputs, misp-stix
  outputs, Attack Flow reports, OpenCTI datasets, Unit 42 STIX 2.0 playbooks).

stix2-validator is slow (~7 ms an object), so its verdicts are cached in
``tests/data/stix/oracle-*.json``; the tests check that the cache matches the data
(digests) and re-run stix2-validator live on a sample, so a stale or wrong cache
fails. Regenerate with ``python -m tests.stix.corpus mutations corpus``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from vigil.stix.validate import Problem, check_object

from .corpus import (
    DIFFERENCE_EXAMPLES,
    SHARED,
    corpus,
    corpus_files,
    decode_ranges,
    extract_objects,
    load_corpus_oracle,
    load_json,
    load_mutation_oracle,
    mutations,
    object_digest,
    reference_problem,
    reference_verdict,
    sha256,
)


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


def _disagreement(name: str, obj: dict[str, Any], problems: list[Problem], why: str) -> str:
    ours = f"{problems[0].code} {problems[0].pointer}: {problems[0].message}" if problems else "ok"
    return (
        f"{name}: vigil {'rejects' if problems else 'accepts'} ({ours[:120]}); "
        f"stix2-validator: {why[:120] or 'ok'}"
    )


def _need_reference() -> None:
    why = reference_problem()
    if why is not None:
        pytest.skip(why)


# --- mutants --------------------------------------------------------------------------


def test_mutants_agree_with_stix2_validator() -> None:
    oracle = load_mutation_oracle()
    unexplained: list[str] = []
    stale: list[str] = []
    used: dict[str, int] = {}
    count = 0
    for name, obj in mutations():
        count += 1
        cached = oracle.get(name)
        if cached is None or cached[0] != object_digest(obj):
            stale.append(name)
            continue
        _, ok, why = cached
        problems = check_object(obj)
        if (not problems) == ok:
            continue
        d = _explain(obj, problems, why)
        if d is None:
            unexplained.append(_disagreement(name, obj, problems, why))
        else:
            used[d.key] = used.get(d.key, 0) + 1
    assert not stale, (
        f"{len(stale)} mutants have no current stix2-validator verdict (e.g. {stale[:3]}): "
        "run python -m tests.stix.corpus mutations"
    )
    assert count > 10_000
    assert not unexplained, f"{len(unexplained)} unexplained disagreements:\n" + "\n".join(
        unexplained[:25]
    )
    # every listed difference is real (shown by at least one mutant)
    assert set(used) == {d.key for d in DIFFERENCES}, set(used) ^ {d.key for d in DIFFERENCES}


def test_mutant_oracle_is_honest() -> None:
    """Re-run stix2-validator on a sample of the cached verdicts."""
    _need_reference()
    oracle = load_mutation_oracle()
    wrong = []
    examples = tuple(":" + label for _type, _path, _value, label in DIFFERENCE_EXAMPLES)
    for i, (name, obj) in enumerate(mutations()):
        if i % 251 == 0 or name.endswith(examples):
            ok, _why = reference_verdict(obj)
            if ok != oracle[name][1]:
                wrong.append(name)
    assert not wrong, f"cached verdicts differ from stix2-validator now: {wrong[:10]}"


# --- real corpora ---------------------------------------------------------------------

needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="shared/data is not beside the checkout"
)


@needs_shared
def test_every_corpus_file_has_cached_verdicts() -> None:
    oracle = load_corpus_oracle()
    names = {p.relative_to(SHARED).as_posix() for p in corpus_files()}
    missing = sorted(names - set(oracle))
    assert not missing, f"run python -m tests.stix.corpus corpus (new files: {missing[:5]})"
    assert len(oracle) >= 100
    assert sum(e["count"] for e in oracle.values()) > 45_000


@needs_shared
@pytest.mark.parametrize("rel", sorted(load_corpus_oracle()))
def test_corpus_agrees_with_stix2_validator(rel: str) -> None:
    path = SHARED / rel
    if not path.exists():
        pytest.skip(f"{rel} is not in this copy of shared/data")
    entry = load_corpus_oracle()[rel]
    assert sha256(path) == entry["sha256"], f"{rel} changed: run python -m tests.stix.corpus corpus"
    if entry["count"] == 0:
        return  # no STIX objects in this file (MISP format, or not JSON)
    objects = extract_objects(load_json(path))
    assert len(objects) == entry["count"]
    rejected = decode_ranges(entry["rejected"])
    unexplained = []
    for i, obj in enumerate(objects):
        problems = check_object(obj)
        if (not problems) == (i not in rejected):
            continue
        why = entry["examples"].get(str(i), "rejected" if i in rejected else "")
        if _explain(obj, problems, why) is None:
            unexplained.append(_disagreement(f"{rel}#{i}", obj, problems, why))
    assert not unexplained, "\n".join(unexplained[:25])


@needs_shared
def test_corpus_oracle_is_honest() -> None:
    """Re-run stix2-validator on a sample of every cached corpus file."""
    _need_reference()
    oracle = load_corpus_oracle()
    wrong = []
    for rel, _path, objects in corpus():
        rejected = decode_ranges(oracle[rel]["rejected"])
        accepted = (i for i in range(len(objects)) if i not in rejected)
        sample = {i for i in (min(rejected, default=None), next(accepted, None)) if i is not None}
        for i in sorted(sample):
            ok, _why = reference_verdict(objects[i])
            if ok != (i not in rejected):
                wrong.append(f"{rel}#{i}")
    assert not wrong, f"cached verdicts differ from stix2-validator now: {wrong[:10]}"


@needs_shared
def test_the_corpus_list_covers_the_real_data() -> None:
    names = {p.relative_to(SHARED).as_posix() for p in corpus_files()}
    for expected in (
        "attack/enterprise-attack-18.1.reconstructed-from-mitre-cti.json.gz",
        "attack/ics-attack-18.1.json.gz",
        "attack/mobile-attack-17.1.json.gz",
        "oasis/tlp2/example-using-tlp2.0-green.INVALID-timestamp.json",
        "misp/misp-stix/tests/test_event1_stix21.json",
        "reports/attack-flow/Shamoon.json",
        "reports/opencti-datasets/geography.json",
    ):
        assert expected in names
