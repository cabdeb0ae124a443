"""The theme vocabulary beyond cyber: the named sub-themes of terrorism and organised
crime (any ``theme/sub`` of the right form is accepted; these are the ones offered by
the console, the CLI's help and the filters)."""

from __future__ import annotations

from vigil.model import THEMES

SUBTHEMES: dict[str, tuple[str, ...]] = {
    "terrorism": (
        "terrorism/financing",
        "terrorism/foreign-fighters",
        "terrorism/propaganda",
        "terrorism/radicalisation",
        "terrorism/attack-planning",
        "terrorism/explosives",
        "terrorism/cbrn",
        "terrorism/travel",
    ),
    "organised-crime": (
        "organised-crime/drug-trafficking",
        "organised-crime/trafficking-in-human-beings",
        "organised-crime/migrant-smuggling",
        "organised-crime/firearms-trafficking",
        "organised-crime/money-laundering",
        "organised-crime/fraud",
        "organised-crime/cybercrime",
        "organised-crime/corruption",
        "organised-crime/environmental-crime",
    ),
    "critical-infrastructure": (
        "critical-infrastructure/energy",
        "critical-infrastructure/transport",
        "critical-infrastructure/water",
        "critical-infrastructure/health",
        "critical-infrastructure/telecommunications",
        "critical-infrastructure/finance",
    ),
    "cyber": (),
}


def vocabulary() -> list[str]:
    """Every named theme, top-level first within each group."""
    out: list[str] = []
    for top in THEMES:
        out.append(top)
        out.extend(SUBTHEMES.get(top, ()))
    return out


def matches(themes: list[str] | tuple[str, ...], wanted: list[str] | tuple[str, ...]) -> bool:
    """Does a share with ``themes`` match a filter on any of ``wanted`` (a theme matches
    itself and its ``theme/sub`` refinements)?"""
    return any(t == w or t.startswith(w + "/") for t in themes for w in wanted)
