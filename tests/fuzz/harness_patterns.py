"""atheris harness: the pattern scanner and the reference checks never raise, and the
fast path never accepts what the reference refuses (see test_fuzz_patterns._agree)."""

from __future__ import annotations

from tests.fuzz.harness import main
from tests.fuzz.test_fuzz_patterns import _agree


def one_input(data: bytes) -> None:
    _agree(data.decode("utf-8", "replace"))


if __name__ == "__main__":
    main("patterns", one_input)
