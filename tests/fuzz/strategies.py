"""Shared pieces of the property-based fuzz tests: settings bounded in time, JSON
values and texts, and mutations of a JSON document at a path hypothesis chooses.

Every test here runs a bounded number of examples (``FUZZ``: a few seconds each).
Under CI (``CI`` set) the examples are derandomised so a run is reproducible; locally
each run explores new inputs and hypothesis keeps the failures it finds in
``.hypothesis/``. Longer, coverage-guided runs are the atheris harnesses
(``tests/fuzz/harness_*.py``, see docs/fuzzing.md).
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from vigil.errors import VigilError

CI = bool(os.environ.get("CI"))


def fuzz_settings(max_examples: int = 200) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=CI,
        database=None if CI else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )


FUZZ = fuzz_settings(int(os.environ.get("VIGIL_FUZZ_EXAMPLES", "100")))

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
NASTY = (
    st.integers()  # beyond ±2**53 and ±2**63 too
    | st.sampled_from(["", " ", "\x00", "\ud800", "²", "9" * 30, "-1", "1e400", "0000",
                       "0000-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "null",
                       "identity--00000000-0000-0000-0000-000000000000"])
)


def json_values(scalars: st.SearchStrategy[Any] = SCALARS, max_leaves: int = 25
                ) -> st.SearchStrategy[Any]:
    """JSON values without duplicate keys (dicts) and with integers exact as doubles."""
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=5)
        | st.dictionaries(st.text(max_size=8), inner, max_size=5),
        max_leaves=max_leaves,
    )


def paths(doc: Any) -> list[tuple[str | int, ...]]:
    """Every path to a value inside ``doc`` (the root is ``()``)."""
    out: list[tuple[str | int, ...]] = [()]

    def walk(x: Any, at: tuple[str | int, ...]) -> None:
        items: Any = x.items() if isinstance(x, dict) else enumerate(x) \
            if isinstance(x, list) else ()
        for k, v in items:
            out.append((*at, k))
            walk(v, (*at, k))

    walk(doc, ())
    return out


@st.composite
def mutated(draw: st.DrawFn, doc: Any, values: st.SearchStrategy[Any] | None = None,
            max_edits: int = 3) -> Any:
    """``doc`` with 1..max_edits edits: a value replaced, a member removed or added,
    a list item dropped or duplicated."""
    values = values if values is not None else json_values(SCALARS | NASTY, max_leaves=4)
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_edits))):
        at = draw(st.sampled_from(paths(doc)))
        if not at:
            if draw(st.booleans()):
                return draw(values)
            continue
        parent = doc
        for k in at[:-1]:
            parent = parent[k]
        key = at[-1]
        how = draw(st.sampled_from(["replace", "remove", "add", "dup"]))
        if how == "replace":
            parent[key] = draw(values)
        elif how == "remove":
            del parent[key]
        elif how == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = draw(values)
        elif how == "dup" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))  # type: ignore[arg-type]
    return doc


def assert_vigil_error(exc: BaseException) -> VigilError:
    """Fail unless ``exc`` is one of vigil's errors with a stable dotted code and a
    4xx status (bad input is the caller's fault, never the node's)."""
    assert isinstance(exc, VigilError), f"{type(exc).__name__}: {exc}"
    assert exc.code and exc.code == exc.code.strip() and " " not in exc.code, exc.code
    assert 400 <= exc.status < 500, (exc.code, exc.status)
    json.dumps(exc.to_dict())  # renders
    return exc
