"""vigil's STIX validator accepts and rejects exactly what the OASIS reference
validator (stix2-validator, STIX 2.1, default options: custom content accepted with
warnings) accepts and rejects, object by object, except for the deliberate
differences listed in DIFFERENCES (``tests/stix/differences.py``), each with its reason.

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
from .differences import DIFFERENCES, _explain


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
