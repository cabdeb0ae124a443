"""The rules for intelligence beyond cyber against the independent reference
(reference_intel.py) on random cases: evaluation, legal basis, purposes and personal
data at publish; retain and forward grants in read and forward; every use with and
without grants. Mutants of the implementation (a rule removed) must be caught."""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from vigil.model import (
    Decision,
    Directory,
    Evaluation,
    IntelRules,
    LegalBasis,
    ShareRequest,
    ShareState,
)

from . import reference_intel as ref
from .strategies import (
    NOW,
    READ_TIMES,
    RandomChooser,
    all_member_ids,
    gen_directory,
    gen_header,
    gen_request,
    gen_state,
    pick,
)

impl = importlib.import_module("vigil.policy.decide")  # the package's `decide` is the function

THEMES = [(), ("cyber",), ("terrorism",), ("organised-crime/money-laundering",),
          ("cyber", "terrorism/financing"), ("critical-infrastructure/energy",)]
EVALUATIONS = [None, Evaluation("admiralty", "B", "2"), Evaluation("4x4", "X", "4")]
LEGALS = [None, LegalBasis("eu-2016/794", ()), LegalBasis("bilateral", ("investigation",)),
          LegalBasis("coe-108+", ("prevention", "protection"))]
RULES = [IntelRules(), IntelRules(require_evaluation=False),
         IntelRules(seal_personal_data=True), IntelRules(False, True)]
USES = ("forward", "court", "retain", "sell")
GRANTS = [frozenset(), frozenset({"court"}), frozenset({"forward"}), frozenset({"retain"}),
          frozenset({"court", "forward", "retain"})]
CASES = 4000


def fields(d: Decision | ref.ref.RefDecision) -> tuple[Any, ...]:
    return (d.allow, d.reason, tuple(d.recipients), d.form)


def publish_cases(seed: int, n: int) -> Iterator[tuple[Directory, ShareRequest, IntelRules]]:
    for i in range(n):
        c = RandomChooser(seed + i)
        d = gen_directory(c)
        req = gen_request(c, d)
        req = replace(req, themes=pick(c, THEMES), evaluation=pick(c, EVALUATIONS),
                      legal=pick(c, LEGALS), personal_data=bool(c.integer(0, 1)))
        yield d, req, pick(c, RULES)


def share_cases(seed: int, n: int) -> Iterator[tuple[Directory, str, dict[str, Any], ShareState,
                                                     str, frozenset[str], str]]:
    for i in range(n):
        c = RandomChooser(seed + i)
        d = gen_directory(c)
        h = gen_header(c, d)
        if c.integer(0, 1):
            h["handling"]["codes"] = ["no-court"]
        state = gen_state(c)
        ids = all_member_ids(d)
        mid = pick(c, [*h["audience"]["recipients"], *h["audience"]["recipients"],
                       h["originator"], *ids])
        yield d, mid, h, state, pick(c, USES), pick(c, GRANTS), pick(c, READ_TIMES)


def publish_mismatches(seed: int = 1, n: int = CASES) -> list[Any]:
    bad = []
    for d, req, rules in publish_cases(seed, n):
        got = impl.decide_publish(d, req, now=NOW, rules=rules)
        want = ref.ref_publish(d, req, now=NOW, rules=rules)
        if fields(got) != fields(want):
            bad.append((req, rules, got, want))
    return bad


def share_mismatches(seed: int = 7, n: int = CASES) -> list[Any]:
    bad = []
    for d, mid, h, state, use, granted, now in share_cases(seed, n):
        pairs = [
            (impl.decide_read(d, mid, h, state, now=now, granted=granted),
             ref.ref_read(d, mid, h, state, now=now, granted=granted)),
            (impl.decide_forward(d, mid, h, state, now=now, granted=granted),
             ref.ref_forward(d, mid, h, state, now=now, granted=granted)),
            (impl.decide_use(d, mid, h, state, use, now=now, granted=granted),
             ref.ref_use(d, mid, h, state, use, now=now, granted=granted)),
        ]
        for got, want in pairs:
            if (got.allow, got.reason) != (want.allow, want.reason):
                bad.append((mid, use, granted, now, h, got, want))
    return bad


def test_publish_matches_the_reference() -> None:
    bad = publish_mismatches()
    assert not bad, bad[:3]


def test_read_forward_and_uses_match_the_reference() -> None:
    bad = share_mismatches()
    assert not bad, bad[:3]


def test_the_cases_reach_every_rule() -> None:
    """The random cases exercise each rule's refusal and its allowed path."""
    reasons = {impl.decide_publish(d, r, now=NOW, rules=ru).reason
               for d, r, ru in publish_cases(1, CASES)}
    assert {ref.EVALUATION_REQUIRED, ref.LEGAL_BASIS_REQUIRED, ref.PURPOSE_REQUIRED,
            ref.PERSONAL_DATA_BASIS, ref.PERSONAL_DATA_SEALED, "ok"} <= reasons
    uses = {impl.decide_use(d, m, h, s, u, now=t, granted=g).reason
            for d, m, h, s, u, g, t in share_cases(7, CASES)}
    assert {ref.GRANT_REQUIRED, ref.OK_GRANT, ref.BAD_ACTION, "ok", "ok.originator",
            "policy.expired"} <= uses


def _orig_intel(*a: Any) -> Decision | None:
    return ORIG["decide_intel"](*a)  # type: ignore[no-any-return]


ORIG: dict[str, Any] = {"decide_intel": impl.decide_intel, "forbids": impl.forbids,
                        "decide_read": impl.decide_read, "decide_onward": impl.decide_onward}

MUTANTS: dict[str, tuple[str, Callable[..., Any]]] = {
    "no intel publish rules": ("decide_intel", lambda req, form, rules: None),
    "no evaluation rule": ("decide_intel", lambda req, form, rules: _orig_intel(
        req, form, replace(rules, require_evaluation=False))),
    "no personal-data rules": ("decide_intel", lambda req, form, rules: _orig_intel(
        replace(req, personal_data=False), form, rules)),
    "no sealing of personal data": ("decide_intel", lambda req, form, rules: _orig_intel(
        req, form, replace(rules, seal_personal_data=False))),
    "purposes not required": ("decide_intel", lambda req, form, rules: _orig_intel(
        replace(req, legal=None if req.legal is None else replace(
            req.legal, purposes=("investigation",))), form, rules)),
    "no-court ignored": ("forbids", lambda h, use: use != "court" and ORIG["forbids"](h, use)),
    "expiry needs no retain grant": ("forbids", lambda h, use: use != "retain"
                                     and ORIG["forbids"](h, use)),
    "grants ignored in read": ("decide_read", lambda *a, **kw: ORIG["decide_read"](
        *a, **{**kw, "granted": frozenset()})),
    "retain granted to all": ("decide_read", lambda *a, **kw: ORIG["decide_read"](
        *a, **{**kw, "granted": frozenset({"retain"})})),
    "onward always allowed": ("decide_onward", lambda h: Decision(True, "ok")),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_a_removed_rule_is_caught(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    attr, fn = MUTANTS[name]
    monkeypatch.setattr(impl, attr, fn)
    n = 1500
    assert publish_mismatches(n=n) or share_mismatches(n=n), f"mutant {name!r} not caught"


def test_retain_grant_reads_past_expiry_in_one_case() -> None:
    c = RandomChooser(3)
    d = gen_directory(c)
    mid = next(m for m in d.members if d.members[m].active)
    other = next(m for m in all_member_ids(d) if m != mid)
    h = gen_header(c, d)
    h.update(originator=other, expires=NOW)
    h["audience"]["recipients"] = [mid]
    later = random.choice(READ_TIMES[1:])
    assert impl.decide_read(d, mid, h, ShareState(), now=later).reason == "policy.expired"
    assert impl.decide_read(d, mid, h, ShareState(), now=later,
                            granted=frozenset({"retain"})).reason == "ok.recipient"
