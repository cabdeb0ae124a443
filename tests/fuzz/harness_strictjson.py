"""atheris harness: the strict JSON parser agrees with the stdlib oracle on any bytes
(see test_fuzz_strictjson.check)."""

from __future__ import annotations

from tests.fuzz.test_fuzz_strictjson import check


def one_input(data: bytes) -> None:
    check(data)

