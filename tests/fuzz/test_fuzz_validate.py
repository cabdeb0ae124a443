"""Fuzzing the STIX 2.1 validator (vigil.stix.validate).

Properties: any JSON value, as an object or a bundle, is checked without an exception
(``check_*`` list problems; ``validate_*`` raise only StixError, a 4xx with a stable
code and the pointer of the fault); and mutants of the hand-written valid seed objects
that hypothesis makes are accepted or refused exactly as stix2-validator (STIX 2.1,
default options) accepts or refuses them, except for the deliberate differences
listed in tests/stix/differences.py.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from tests.stix.corpus import (
    ID_VARIANTS,
    PATTERNS,
    REF_VARIANTS,
    TS_VARIANTS,
    load_seeds,
    reference_problem,
    reference_verdict,
)
from tests.stix.differences import _explain

from vigil.errors import StixError
from vigil.stix.validate import check_bundle, check_object, validate_bundle, validate_object

from .strategies import NASTY, SCALARS, assert_vigil_error, fuzz_settings, json_values, mutated

SEEDS = load_seeds()
REFERENCE_PROBLEM = functools.cache(reference_problem)
BUNDLE_ID = "bundle--7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a"


def _flat(variants: Any) -> list[Any]:
    out: list[Any] = []
    for v in variants.values() if isinstance(variants, dict) else variants:
        out.extend(_flat(v) if isinstance(v, dict | list | tuple) else [v])
    return out


STIX_SCALARS = st.sampled_from(
    _flat(TS_VARIANTS) + _flat(ID_VARIANTS) + _flat(REF_VARIANTS) + PATTERNS
    + ["2.1", "2.0", "stix", "x-acme-thing", "indicator", "tlp:red", "0000-01-01T00:00:00Z",
       "0001-01-01T00:00:00.000Z", "2026-02-30T00:00:00Z", "2026-11-29T08:00:00.123456789Z"]
)
STIX_VALUES = json_values(SCALARS | NASTY | STIX_SCALARS, max_leaves=4)
SHAPED = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted({s["type"] for s in SEEDS})) | st.text(max_size=10)},
    optional={"id": STIX_SCALARS, "spec_version": STIX_SCALARS, "created": STIX_SCALARS,
              "modified": STIX_SCALARS, "pattern": STIX_SCALARS,
              "pattern_type": st.just("stix"), "objects": st.lists(json_values(), max_size=3)},
).flatmap(lambda d: st.dictionaries(st.text(max_size=10), STIX_VALUES, max_size=4)
          .map(lambda extra: {**extra, **d}))


def _clean(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as exc:
        err = assert_vigil_error(exc)
        assert isinstance(err, StixError) or err.code.startswith(("stix.", "input.")), err
        assert err.pointer is not None


@fuzz_settings(150)
@given(json_values() | SHAPED | st.sampled_from(SEEDS).flatmap(
    lambda s: mutated(s, STIX_VALUES, max_edits=4)))
def test_any_value_is_checked_without_crashing(obj: Any) -> None:
    assert isinstance(check_object(obj), list)
    _clean(validate_object, obj)
    bundle = {"type": "bundle", "id": BUNDLE_ID, "objects": [obj]}
    assert isinstance(check_bundle(bundle), list)
    _clean(validate_bundle, bundle)
    _clean(validate_bundle, obj)


@fuzz_settings(50)
@given(st.sampled_from(SEEDS).flatmap(lambda s: mutated(s, STIX_VALUES, max_edits=2)))
@example({**SEEDS[0], "created": "0000-01-01T00:00:00.000Z"})
def test_mutants_agree_with_stix2_validator(obj: Any) -> None:
    why_not = REFERENCE_PROBLEM()
    if why_not:
        pytest.skip(why_not)
    if not isinstance(obj, dict):
        assert check_object(obj)
        return
    problems = check_object(obj)
    ok, why = reference_verdict(obj)
    if (not problems) == ok:
        return
    ours = f"{problems[0].code} {problems[0].pointer}: {problems[0].message}" if problems \
        else "ok"
    assert _explain(obj, problems, why) is not None, (
        f"vigil {'rejects' if problems else 'accepts'} ({ours[:160]}); "
        f"stix2-validator: {why[:160] or 'ok'}; object: {obj!r}"[:1500])
