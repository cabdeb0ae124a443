"""Source and information evaluation: the Admiralty (NATO) codes and the 4x4 codes.

Admiralty: source reliability A (completely reliable) to E (unreliable), F (cannot be
judged); information credibility 1 (confirmed) to 5 (improbable), 6 (cannot be judged).
4x4 (the codes of Europol's SIENA and of many police services): source A (no doubt),
B (mostly reliable), C (mostly unreliable), X (cannot be assessed); information
1 (no doubt of its accuracy), 2 (known personally to the source, not to the official
passing it on), 3 (not known personally to the source, corroborated), 4 (not known
personally to the source, not corroborated).

The mapping (docs/model.md, "Evaluation") takes each code to the nearest of the other
scheme; from 4x4 to Admiralty and back is the identity, the other way round is lossy
(Admiralty has more grades).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vigil.errors import InputError
from vigil.model import Evaluation, ShareHeader

ADMIRALTY = "admiralty"
FOUR_BY_FOUR = "4x4"
SCHEMES = (ADMIRALTY, FOUR_BY_FOUR)

SOURCE: dict[str, dict[str, str]] = {
    ADMIRALTY: {
        "A": "completely reliable",
        "B": "usually reliable",
        "C": "fairly reliable",
        "D": "not usually reliable",
        "E": "unreliable",
        "F": "reliability cannot be judged",
    },
    FOUR_BY_FOUR: {
        "A": "no doubt of authenticity, trustworthiness and competence",
        "B": "source has in most instances proved reliable",
        "C": "source has in most instances proved unreliable",
        "X": "reliability cannot be assessed",
    },
}
INFORMATION: dict[str, dict[str, str]] = {
    ADMIRALTY: {
        "1": "confirmed by other sources",
        "2": "probably true",
        "3": "possibly true",
        "4": "doubtful",
        "5": "improbable",
        "6": "truth cannot be judged",
    },
    FOUR_BY_FOUR: {
        "1": "no doubt about its accuracy",
        "2": "known personally to the source but not to the official passing it on",
        "3": "not known personally to the source but corroborated",
        "4": "not known personally to the source and cannot be corroborated",
    },
}

_SOURCE_TO_4X4 = {"A": "A", "B": "B", "C": "B", "D": "C", "E": "C", "F": "X"}
_SOURCE_TO_ADM = {"A": "A", "B": "B", "C": "D", "X": "F"}
_INFO_TO_4X4 = {"1": "1", "2": "2", "3": "3", "4": "4", "5": "4", "6": "4"}
_INFO_TO_ADM = {"1": "1", "2": "2", "3": "3", "4": "6"}


def evaluation(scheme: str, source: str, information: str) -> Evaluation:
    """A checked evaluation (``input.evaluation`` with the pointer of the fault)."""
    if scheme not in SCHEMES:
        raise InputError(f"evaluation scheme must be one of {', '.join(SCHEMES)}",
                         code="input.evaluation", pointer="/evaluation/scheme")
    source = str(source).strip().upper()
    information = str(information).strip()
    if source not in SOURCE[scheme]:
        raise InputError(f"{scheme} source reliability must be one of "
                         f"{', '.join(SOURCE[scheme])}", code="input.evaluation",
                         pointer="/evaluation/source")
    if information not in INFORMATION[scheme]:
        raise InputError(f"{scheme} information credibility must be one of "
                         f"{', '.join(INFORMATION[scheme])}", code="input.evaluation",
                         pointer="/evaluation/information")
    return Evaluation(scheme, source, information)


def parse(code: str) -> Evaluation:
    """``"B2"`` (Admiralty), ``"4x4:B2"`` or ``"admiralty:B2"`` -> Evaluation."""
    scheme, _, rest = code.strip().rpartition(":")
    scheme = scheme.lower() or ADMIRALTY
    if len(rest) != 2:
        raise InputError("an evaluation is a source letter and an information digit, "
                         "e.g. B2 or 4x4:B2", code="input.evaluation", pointer="/evaluation")
    return evaluation(scheme, rest[0], rest[1])


def to_scheme(e: Evaluation, scheme: str) -> Evaluation:
    """The same evaluation in the other scheme (itself when already in it)."""
    if scheme == e.scheme:
        return e
    if scheme == FOUR_BY_FOUR:
        return Evaluation(FOUR_BY_FOUR, _SOURCE_TO_4X4[e.source], _INFO_TO_4X4[e.information])
    if scheme == ADMIRALTY:
        return Evaluation(ADMIRALTY, _SOURCE_TO_ADM[e.source], _INFO_TO_ADM[e.information])
    raise InputError(f"no evaluation scheme {scheme!r}", code="input.evaluation")


def code(e: Evaluation) -> str:
    """``"B2"`` for Admiralty, ``"4x4:B2"`` for 4x4."""
    prefix = "" if e.scheme == ADMIRALTY else f"{e.scheme}:"
    return f"{prefix}{e.source}{e.information}"


def describe(e: Evaluation) -> str:
    """One line for a person: the code, its meaning and the other scheme's code."""
    other = to_scheme(e, FOUR_BY_FOUR if e.scheme == ADMIRALTY else ADMIRALTY)
    return (f"{code(e)} ({SOURCE[e.scheme][e.source]}; {INFORMATION[e.scheme][e.information]})"
            f" = {code(other)}")


def to_header(e: Evaluation) -> dict[str, str]:
    return {"scheme": e.scheme, "source": e.source, "information": e.information}


def from_header(h: ShareHeader) -> Evaluation | None:
    """The evaluation a signed share header carries, or None."""
    ev = h.get("evaluation")
    if not isinstance(ev, Mapping):
        return None
    return Evaluation(str(ev["scheme"]), str(ev["source"]), str(ev["information"]))


def well_formed(obj: Any) -> str | None:
    """None when ``obj`` is a header's ``evaluation`` object, else what is wrong."""
    if not isinstance(obj, Mapping) or set(obj) != {"scheme", "source", "information"}:
        return "must be {scheme, source, information}"
    scheme, src, info = obj["scheme"], obj["source"], obj["information"]
    if not all(isinstance(x, str) for x in (scheme, src, info)) or scheme not in SCHEMES:
        return "scheme must be admiralty or 4x4"
    if src not in SOURCE[scheme] or info not in INFORMATION[scheme]:
        return f"not a {scheme} code"
    return None
