"""atheris harness: the pattern scanner and the reference checks never raise, and the
fast path never accepts what the reference refuses (see test_fuzz_patterns._agree)."""

from __future__ import annotations

from tests.fuzz.test_fuzz_patterns import _agree


def one_input(data: bytes) -> None:
    _agree(data.decode("utf-8", "replace"))

