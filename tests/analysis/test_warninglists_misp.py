"""vigil's warninglists against MISP's own lookup (pymispwarninglists, with MISP's
lists it ships) on at least 2,000 values per list type: every difference is one of the
documented choices below, each asserted to occur.

* ``case``: vigil compares normalised values, case-insensitively (a hash or a domain is
  the same in any case); MISP compares strings exactly, so ``D41D8…`` misses a list
  that holds ``d41d8…``.
* ``not an observable``: vigil looks up observables (what a share holds); a value that
  is none (a bare ``gi`` of the second-level TLD list, ``.on.aws`` with its leading dot)
  is never looked up.

(``regex`` lists are not compared: pymispwarninglists does not match them.)"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pymispwarninglists
import pytest
from pymispwarninglists.api import WarningList

from vigil.analysis.observables import guess
from vigil.analysis.warninglists import WarninglistSet, parse

PER_LIST = 60
MAX_BYTES = 1_500_000  # lists over 1.5 MB (Tranco's million, …) are left out: time only
LISTS = Path(pymispwarninglists.__file__).parent / "data" / "misp-warninglists" / "lists"


@pytest.fixture(scope="module")
def misp() -> list[Any]:
    """MISP's lists as pymispwarninglists ships and reads them (its slow search, the
    one that matches hostnames, substrings and networks)."""
    return [WarningList(json.loads(f.read_text("utf-8")), slow_search=True)
            for f in sorted(LISTS.glob("*/list.json")) if f.stat().st_size <= MAX_BYTES]


def values(wtype: str, entries: list[str], rng: random.Random) -> list[str]:
    out = []
    for e in rng.sample(entries, min(len(entries), PER_LIST)):
        out.append(e)
        bare = e.lstrip(".")
        if wtype == "string":
            out += [e.upper(), f"x{e}"]
        elif wtype == "hostname":
            out += [f"www.{bare}", f"http://{bare}/x", f"not{bare}", bare.upper()]
        elif wtype == "substring":
            for k in range(8):  # distinct values around the entry
                out += [f"a{k}{e}b.example", f"{e}{k}.example".upper(), f"none{k}.example"]
        elif wtype == "cidr":
            out += [e.split("/")[0], "192.0.2.1"]
    return out


@pytest.mark.parametrize("wtype", ["string", "hostname", "substring", "cidr"])
def test_vigil_agrees_with_misp(misp: Any, wtype: str) -> None:
    rng = random.Random(16)
    compared = 0
    why: Counter[str] = Counter()
    for wl in misp:
        if wl.type != wtype:
            continue
        doc = wl.to_dict()
        doc.pop("matching_attributes", None)  # both sides: every kind
        ws = WarninglistSet([parse(doc)])
        for v in values(wtype, [str(e) for e in wl.list], rng):
            compared += 1
            o = guess(v)
            ours = o is not None and bool(ws.hits(o))
            theirs = v in wl
            if ours == theirs:
                continue
            if o is None and theirs:
                why["not an observable"] += 1
            elif ours and not theirs and v != v.lower():
                why["case"] += 1
            else:
                why[f"unexplained: {wl.name}: {v!r}"] += 1
    assert compared >= 2000
    assert [k for k in why if k.startswith("unexplained")] == []
    if wtype in ("string", "hostname", "substring"):
        assert why["case"] > 0
