"""Who a MISP event may go to: its distribution and sharing group read as vigil's
audience (:func:`propose`), an audience wider than the event's refused
(:func:`check_audience`), and the share's TLP never wider than the event's tag
(:func:`check_tlp`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vigil.errors import InputError
from vigil.interop.misp_tags import Marking
from vigil.model import Tlp
from vigil.stix.tlp import TLP_ORDER

# distribution -> how wide: 0 the organisation, 2 a sharing group, 3 the community
ORG, GROUP, COMMUNITY = 0, 2, 3
RANK = {"0": ORG, "1": COMMUNITY, "2": COMMUNITY, "3": COMMUNITY, "4": GROUP}


@dataclass(frozen=True, slots=True)
class Proposal:
    """The widest audience the event allows, and the one proposed."""

    distribution: str | None
    sharing_group: str | None
    widest: int | None  # ORG, GROUP, COMMUNITY; None: the event does not say
    to: tuple[str, ...] | None  # proposed --to: () every member; None: none to propose

    def describe(self) -> str:
        if self.widest == ORG:
            return "the event is for its organisation only (distribution 0): not shared"
        if self.to is None:
            sg = f" (sharing group {self.sharing_group!r})" if self.sharing_group else ""
            return f"no audience proposed{sg}: name one with --to"
        return "every member (--to community)" if not self.to else f"--to {' '.join(self.to)}"

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "sharing_group": self.sharing_group,
                "to": None if self.to is None else list(self.to) or ["community"],
                "text": self.describe()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def propose(event: dict[str, Any], channels: Iterable[str] = ()) -> Proposal:
    """The audience the event's distribution allows, given the member's channel names."""
    ev = event["Event"]
    dist = ev.get("distribution")
    dist = None if dist is None else str(dist)
    sg = ev.get("SharingGroup") if isinstance(ev.get("SharingGroup"), dict) else None
    sg_name = str(sg["name"]) if sg and sg.get("name") else None
    widest = RANK.get(dist) if dist is not None else None
    to: tuple[str, ...] | None = None
    if widest == COMMUNITY:
        to = ()
    elif widest == GROUP and sg_name:
        names = {_slug(c): c for c in channels}
        if _slug(sg_name) in names:
            to = (names[_slug(sg_name)],)
    return Proposal(dist, sg_name, widest, to)


def audience_rank(to: Sequence[str]) -> int:
    """How wide a --to list is: every member, a channel, or members named one by one
    (ranked with a sharing group, the narrowest MISP audience beyond the organisation)."""
    if not to:
        return COMMUNITY
    return GROUP


def check_audience(proposal: Proposal, to: Sequence[str]) -> None:
    """Refuse an audience wider than the event's distribution."""
    if proposal.widest == ORG:
        raise InputError("the MISP event is for its organisation only (distribution 0); "
                         "change its distribution in MISP to share it",
                         code="misp.org_only", pointer="/Event/distribution")
    if proposal.widest is not None and audience_rank(to) > proposal.widest:
        raise InputError(f"--to {' '.join(to) or 'community'} is wider than the event's "
                         f"distribution ({proposal.describe()})",
                         code="misp.audience_wider", pointer="/Event/distribution")


def check_tlp(marking: Marking, tlp: Tlp | None) -> Tlp:
    """The share's TLP: the one asked for, never wider than the event's TLP tag."""
    if tlp is None:
        if marking.tlp is None:
            raise InputError("the event has no tlp: tag; give --tlp",
                             code="misp.tlp_required", pointer="/Event/Tag")
        return marking.tlp
    if marking.tlp is not None and TLP_ORDER.index(tlp) < TLP_ORDER.index(marking.tlp):
        raise InputError(f"TLP:{tlp.value.upper()} is wider than the event's "
                         f"TLP:{marking.tlp.value.upper()}", code="misp.tlp_wider",
                         pointer="/Event/Tag")
    return tlp
