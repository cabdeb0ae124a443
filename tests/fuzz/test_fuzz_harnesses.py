"""The atheris harnesses run under pytest over their seed corpora, so they stay in step
with the parsers they fuzz (long runs: docs/fuzzing.md)."""

from __future__ import annotations

import importlib

import pytest
from tests.fuzz.harness import seeds

PARSERS = ["strictjson", "envelope", "validate", "patterns", "params"]


@pytest.mark.parametrize("parser", PARSERS)
def test_the_harness_accepts_its_seed_corpus(parser: str) -> None:
    harness = importlib.import_module(f"tests.fuzz.harness_{parser}")
    corpus = seeds(parser)
    assert len(corpus) >= 3
    for path in corpus:
        harness.one_input(path.read_bytes())


def test_the_envelope_seeds_verify() -> None:
    from tests.fuzz import harness_envelope

    assert len(harness_envelope.SIGNED) == len(seeds("envelope")) == 3
    harness_envelope.one_input(seeds("envelope")[0].read_bytes())


def test_a_harness_reports_what_is_not_a_vigil_error() -> None:
    from tests.fuzz import harness_envelope

    wire = seeds("envelope")[0].read_bytes()
    forged = wire.replace(b'"ir"', b'"xx"')
    assert forged != wire
    harness_envelope.one_input(forged)  # refused cleanly: crypto.bad_signature
    original = harness_envelope.SIGNED
    harness_envelope.SIGNED = set()
    try:
        with pytest.raises(AssertionError, match="verified"):
            harness_envelope.one_input(wire)
    finally:
        harness_envelope.SIGNED = original
