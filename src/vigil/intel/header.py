"""What a signed share header says beyond cyber: its evaluation, legal basis and
whether it holds personal data, for the policy and for every view."""

from __future__ import annotations

from typing import Any

from vigil.intel import evaluation, legal
from vigil.model import Evaluation, LegalBasis, ShareHeader


def intel_of(h: ShareHeader) -> tuple[Evaluation | None, LegalBasis | None, bool]:
    """(evaluation, legal basis, personal data) of a header, in ShareRequest's order."""
    return evaluation.from_header(h), legal.from_header(h), legal.personal_data(h)


def summary(h: ShareHeader) -> dict[str, Any]:
    """The evaluation and legal basis of a share as every view shows them: codes in both
    schemes, the instrument, purposes, personal data and the handling codes."""
    ev = evaluation.from_header(h)
    lg = legal.from_header(h)
    out: dict[str, Any] = {
        "evaluation": None if ev is None else {
            "code": evaluation.code(ev),
            "admiralty": evaluation.code(evaluation.to_scheme(ev, evaluation.ADMIRALTY)),
            "4x4": evaluation.code(evaluation.to_scheme(ev, evaluation.FOUR_BY_FOUR)),
            "text": evaluation.describe(ev)},
        "legal": None if lg is None else {
            "basis": lg.basis, "instrument": legal.INSTRUMENTS.get(lg.basis, lg.basis),
            "purposes": list(lg.purposes)},
        "personal_data": legal.personal_data(h),
    }
    return out
