"""The common ``main`` of the atheris harnesses (``harness_<parser>.py``).

Each harness module defines ``one_input(data: bytes) -> None``, which raises
(``AssertionError`` or any exception that is not one of vigil's 4xx errors) exactly when
the parser misbehaves; the same function runs under pytest over the seed corpus
(tests/fuzz/test_fuzz_harnesses.py) and under libFuzzer for long runs::

    python -m tests.fuzz.harness strictjson -max_total_time=60

With no corpus directory on the command line the harness reads its seeds from
``tests/data/fuzz/<parser>/`` and keeps what it finds in ``.fuzz/<parser>/`` (not
committed); crashes are written to the current directory as ``crash-<sha1>``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from vigil.errors import VigilError

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "tests" / "data" / "fuzz"


def seeds(parser: str) -> list[Path]:
    folder = SEEDS / parser
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def expected(exc: BaseException) -> bool:
    """True for the errors a parser may raise on bad input: vigil's, 4xx."""
    return isinstance(exc, VigilError) and 400 <= exc.status < 500 and bool(exc.code)


def guarded(fn: Callable[[], object]) -> None:
    """Run ``fn``; swallow vigil's 4xx errors, let everything else through (a crash)."""
    try:
        fn()
    except Exception as exc:
        if not expected(exc):
            raise


def main(argv: list[str]) -> None:
    """``main(["prog", parser, *libfuzzer_args])``: instrument vigil's modules (only
    those: instrumenting every loaded module takes minutes), then fuzz the parser."""
    import importlib

    import atheris

    parser, args = argv[1], [argv[0], *argv[2:]]
    with atheris.instrument_imports(include=["vigil"]):
        harness = importlib.import_module(f"tests.fuzz.harness_{parser}")
    if not any(not a.startswith("-") for a in args[1:]):
        work = ROOT / ".fuzz" / parser
        work.mkdir(parents=True, exist_ok=True)
        args += [str(work), str(SEEDS / parser)]
    atheris.Setup(args, harness.one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
