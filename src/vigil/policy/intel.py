"""The publish rules for intelligence beyond cyber (docs/policy.md, Publish rules 9-12):
an evaluation, a legal basis and purposes for the themes that need them, a legal basis
for personal data, and personal data sealed where the node says so. Pure."""

from __future__ import annotations

from vigil.model import EVALUATED_THEMES, Decision, Form, IntelRules, ShareRequest

EVALUATION_REQUIRED = "policy.evaluation_required"
LEGAL_BASIS_REQUIRED = "policy.legal_basis_required"
PURPOSE_REQUIRED = "policy.purpose_required"
PERSONAL_DATA_BASIS = "policy.personal_data_basis"
PERSONAL_DATA_SEALED = "policy.personal_data_sealed"


def needs_evaluation(themes: tuple[str, ...]) -> bool:
    """Does a share with these themes need an evaluation, a legal basis and purposes?"""
    return any(t.partition("/")[0] in EVALUATED_THEMES for t in themes)


def decide_intel(request: ShareRequest, form: Form, rules: IntelRules) -> Decision | None:
    """None when the request passes these rules, else the refusal."""
    legal = request.legal
    if rules.require_evaluation and needs_evaluation(request.themes):
        if request.evaluation is None:
            return Decision(False, EVALUATION_REQUIRED)
        if legal is None:
            return Decision(False, LEGAL_BASIS_REQUIRED)
        if not legal.purposes:
            return Decision(False, PURPOSE_REQUIRED)
    if request.personal_data:
        if legal is None:
            return Decision(False, PERSONAL_DATA_BASIS)
        if not legal.purposes:
            return Decision(False, PURPOSE_REQUIRED)
        if rules.seal_personal_data and form is Form.PLAIN:
            return Decision(False, PERSONAL_DATA_SEALED)
    return None
