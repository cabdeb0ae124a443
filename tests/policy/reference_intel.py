"""An independent reference for the rules of docs/policy.md on intelligence beyond
cyber: publish rules 9-11 (evaluation, legal basis, purposes, personal data), the
``retain`` grant in read rule 5, the ``forward`` grant, and "Uses and consent grants".

Written from the document, naively, on top of ``reference.py``; nothing is shared with
``vigil.policy`` but the value types of ``vigil.model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.model import Directory, IntelRules, ShareRequest, ShareState, Tlp

from . import reference as ref

EVALUATION_REQUIRED = "policy.evaluation_required"
LEGAL_BASIS_REQUIRED = "policy.legal_basis_required"
PURPOSE_REQUIRED = "policy.purpose_required"
PERSONAL_DATA_BASIS = "policy.personal_data_basis"
PERSONAL_DATA_SEALED = "policy.personal_data_sealed"
GRANT_REQUIRED = "policy.grant_required"
BAD_ACTION = "policy.bad_action"
OK_GRANT = "ok.grant"

THEMES_NEEDING_EVALUATION = ("terrorism", "organised-crime")
ALL_USES = ("forward", "court", "retain")


def _needs_evaluation(themes: tuple[str, ...]) -> bool:
    for t in themes:
        top = t.split("/")[0]
        if top in THEMES_NEEDING_EVALUATION:
            return True
    return False


def ref_publish(d: Directory, req: ShareRequest, *, now: str,
                rules: IntelRules) -> ref.RefDecision:
    base = ref.ref_publish(d, req, now=now)
    if not base.allow:
        return base
    # 9
    if rules.require_evaluation and _needs_evaluation(req.themes):
        if req.evaluation is None:
            return ref.RefDecision(False, EVALUATION_REQUIRED)
        if req.legal is None:
            return ref.RefDecision(False, LEGAL_BASIS_REQUIRED)
        if len(req.legal.purposes) == 0:
            return ref.RefDecision(False, PURPOSE_REQUIRED)
    # 10
    if req.personal_data and req.legal is None:
        return ref.RefDecision(False, PERSONAL_DATA_BASIS)
    if req.personal_data and len(req.legal.purposes) == 0:  # type: ignore[union-attr]
        return ref.RefDecision(False, PURPOSE_REQUIRED)
    # 11
    if req.personal_data and rules.seal_personal_data and base.form is not None \
            and base.form.value == "plain":
        return ref.RefDecision(False, PERSONAL_DATA_SEALED)
    return base


def ref_read(d: Directory, mid: str, header: Mapping[str, Any], state: ShareState, *,
             now: str, granted: frozenset[str]) -> ref.RefDecision:
    """Read rule 5 as amended: past its expiry, a share is still read by a recipient the
    originator granted ``retain``."""
    if "retain" in granted and ref.is_past_or_now(header.get("expires"), now):
        unexpired = dict(header)
        unexpired["expires"] = None
        return ref.ref_read(d, mid, unexpired, state, now=now)
    return ref.ref_read(d, mid, header, state, now=now)


def _forbidden(header: Mapping[str, Any], use: str) -> bool:
    if use == "forward":
        return bool(header["handling"]["no_onward"])
    if use == "court":
        return "no-court" in list(header["handling"]["codes"])
    return header.get("expires") is not None  # retain


def ref_forward(d: Directory, mid: str, header: Mapping[str, Any], state: ShareState, *,
                now: str, granted: frozenset[str]) -> ref.RefDecision:
    r = ref_read(d, mid, header, state, now=now, granted=granted)
    if not r.allow:
        return r
    if mid == header["originator"]:
        return ref.RefDecision(True, ref.OK_ORIGINATOR)
    if header["handling"]["no_onward"]:
        return ref.RefDecision(True, OK_GRANT) if "forward" in granted \
            else ref.RefDecision(False, ref.NO_ONWARD)
    if Tlp(header["audience"]["tlp"]) not in (Tlp.CLEAR, Tlp.GREEN):
        return ref.RefDecision(True, OK_GRANT) if "forward" in granted \
            else ref.RefDecision(False, ref.TLP_FORBIDS_ONWARD)
    return ref.RefDecision(True, ref.OK)


def ref_use(d: Directory, mid: str, header: Mapping[str, Any], state: ShareState, use: str,
            *, now: str, granted: frozenset[str]) -> ref.RefDecision:
    r = ref_read(d, mid, header, state, now=now, granted=granted)
    if not r.allow:
        return r
    if use not in ALL_USES:
        return ref.RefDecision(False, BAD_ACTION)
    if mid == header["originator"]:
        return ref.RefDecision(True, ref.OK_ORIGINATOR)
    if use in granted:
        return ref.RefDecision(True, OK_GRANT)
    if _forbidden(header, use):
        return ref.RefDecision(False, GRANT_REQUIRED)
    if use == "forward" and Tlp(header["audience"]["tlp"]) not in (Tlp.CLEAR, Tlp.GREEN):
        return ref.RefDecision(False, GRANT_REQUIRED)
    return ref.RefDecision(True, ref.OK)
