"""The blind tokens a member's client sends beside a sealed share: one per observable the
shared extractor finds in the bundle (``vigil.protocol.blind`` makes the tokens)."""

from __future__ import annotations

from vigil.analysis.extract import extract_bundle
from vigil.protocol.blind import tokens


def bundle_tokens(key: bytes, bundle: bytes) -> list[bytes]:
    """Tokens of every observable the shared extractor finds in a STIX bundle."""
    return tokens(key, (o.key for o in extract_bundle(bundle)))
