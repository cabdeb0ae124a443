"""atheris harness: numbers, cursors, limits and times (vigil.params, the SSE cursor,
TAXII queries and tokens). The first byte picks the parser, the rest is its text; each
check is the property of tests/fuzz/test_fuzz_params.py for that parser."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.fuzz import test_fuzz_params as props

from vigil import params


def one_input(data: bytes) -> None:
    if not data:
        return
    text = data[1:].decode("utf-8", "replace")
    which = data[0] % 6
    base = datetime(2026, 1, 1, tzinfo=UTC)
    inner = [
        lambda: props.test_numbers_are_ascii_digits_within_bounds.hypothesis.inner_test(
            text, data[0] % 3, params.MAX_INT),
        lambda: props.test_stream_cursors.hypothesis.inner_test(text, text[::-1]),
        lambda: props.test_instants_agree_with_fromisoformat.hypothesis.inner_test(text),
        lambda: props.test_expiries_stay_in_range_and_are_written_in_rfc3339.hypothesis
        .inner_test(text, base),
        lambda: props.test_taxii_next_tokens_round_trip.hypothesis.inner_test(1, 2, text),
        lambda: props.test_taxii_queries.hypothesis.inner_test(
            [tuple(p.split("=", 1)) for p in text.split("&") if "=" in p]),
    ][which]
    inner()
