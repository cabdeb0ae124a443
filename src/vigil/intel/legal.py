"""Legal basis and purposes of an exchange.

A share about terrorism or organised crime names the instrument that allows the
exchange (``basis``: free text of at most 256 characters; ``INSTRUMENTS`` are the usual
ones, offered by the console and the CLI) and one or more ``PURPOSES`` from a fixed
vocabulary, and says whether it holds personal data. All three travel signed in the
share header's ``legal`` object (docs/model.md, "Legal basis").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from vigil.errors import InputError
from vigil.intel import handling
from vigil.model import LegalBasis, ShareHeader

MAX_BASIS = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

INSTRUMENTS: dict[str, str] = {
    "eu-2016/794": "Regulation (EU) 2016/794 (Europol Regulation)",
    "eu-2016/680": "Directive (EU) 2016/680 (Law Enforcement Directive), art. 8",
    "eu-2008/615": "Council Decision 2008/615/JHA (Prüm)",
    "eu-2006/960": "Council Framework Decision 2006/960/JHA (Swedish Initiative)",
    "coe-108+": "Council of Europe Convention 108+ (data protection)",
    "coe-budapest": "Council of Europe Convention on Cybercrime (Budapest), art. 26",
    "un-untoc": "UN Convention against Transnational Organized Crime (Palermo), art. 27",
    "un-sc-2396": "UN Security Council Resolution 2396 (2017), foreign terrorist fighters",
    "interpol-rpd": "INTERPOL's Rules on the Processing of Data",
    "bilateral": "a bilateral agreement or memorandum of understanding between members",
    "national-law": "the originator's national law (named in the share)",
}

PURPOSES: dict[str, str] = {
    "prevention": "preventing a crime or an attack",
    "investigation": "a criminal investigation",
    "prosecution": "prosecution (use in court still needs the originator's consent "
                   "when the share is marked no-court)",
    "threat-assessment": "assessing a threat",
    "strategic-analysis": "strategic analysis",
    "border-control": "border and travel control",
    "financial-investigation": "financial investigation and asset recovery",
    "protection": "protecting persons or critical infrastructure",
}


def legal_basis(basis: str, purposes: Iterable[str]) -> LegalBasis:
    """A checked legal basis (``input.legal_basis`` with the pointer of the fault)."""
    basis = str(basis).strip()
    if not basis or len(basis) > MAX_BASIS or _CONTROL.search(basis):
        raise InputError(f"a legal basis is 1..{MAX_BASIS} characters without control "
                         "characters", code="input.legal_basis", pointer="/legal/basis")
    out = set()
    for i, p in enumerate(purposes):
        p = str(p).strip().lower()
        if p not in PURPOSES:
            raise InputError(f"unknown purpose {p[:40]!r}; purposes are "
                             f"{', '.join(PURPOSES)}", code="input.legal_basis",
                             pointer=f"/legal/purposes/{i}")
        out.add(p)
    return LegalBasis(basis, tuple(sorted(out)))


def to_header(legal: LegalBasis, personal_data: bool) -> dict[str, Any]:
    return {"basis": legal.basis, "purposes": sorted(set(legal.purposes)),
            "personal_data": personal_data}


def from_header(h: ShareHeader) -> LegalBasis | None:
    """The legal basis a signed share header carries, or None."""
    lg = h.get("legal")
    if not isinstance(lg, Mapping):
        return None
    return LegalBasis(str(lg["basis"]), tuple(str(p) for p in lg["purposes"]))


def personal_data(h: ShareHeader) -> bool:
    """Does a signed share header say that the share holds personal data?"""
    return handling.personal_data(h)


def well_formed(obj: Any) -> str | None:
    """None when ``obj`` is a header's ``legal`` object, else what is wrong."""
    if not isinstance(obj, Mapping) or set(obj) != {"basis", "purposes", "personal_data"}:
        return "must be {basis, purposes, personal_data}"
    b, ps = obj["basis"], obj["purposes"]
    if not isinstance(b, str) or not b or len(b) > MAX_BASIS or _CONTROL.search(b):
        return f"basis must be 1..{MAX_BASIS} characters without control characters"
    if (not isinstance(ps, list) or not all(isinstance(p, str) and p in PURPOSES for p in ps)
            or ps != sorted(set(ps))):
        return "purposes must be known purposes, sorted, without duplicates"
    if type(obj["personal_data"]) is not bool:
        return "personal_data must be true or false"
    return None
