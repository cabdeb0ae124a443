"""The blind tokens a client sends beside a sealed share: one per observable in it."""

from __future__ import annotations

from vigil.analysis.extract import extract_bundle
from vigil.client.blind import bundle_tokens
from vigil.protocol.blind import token
from vigil.testing import stix

KEY = b"k" * 32


def test_one_token_per_distinct_observable_of_the_bundle() -> None:
    raw = stix.bundle(stix.indicator("198.51.100.7"), stix.indicator("198.51.100.7"),
                      stix.indicator("203.0.113.9"))
    keys = {o.key for o in extract_bundle(raw)}
    assert len(keys) == 2
    assert bundle_tokens(KEY, raw) == sorted(token(KEY, k) for k in keys)
    assert bundle_tokens(b"j" * 32, raw) != bundle_tokens(KEY, raw)


def test_a_bundle_without_observables_has_no_token() -> None:
    assert bundle_tokens(KEY, stix.bundle(stix.malware("no observable"))) == []
    assert bundle_tokens(KEY, b"not json") == []
