"""MISP tags to vigil's TLP and handling codes.

* ``tlp:*`` (``white``/``clear``, ``green``, ``amber``, ``amber+strict``, ``red``): the
  share's TLP; of several, the narrowest.
* ``pap:*`` (any case), ``admiralty-scale:*`` (source reliability and information
  credibility), ``europol-*`` (Europol's event and incident taxonomies, and the other
  ``europol-`` namespaces), ``iep*`` and ``cnsd:*``: handling codes, written as the tag in
  lower case with the value's quotes dropped (``admiralty-scale:source-reliability=b``).
* Every other tag stays where misp-stix puts it: the STIX objects' ``labels``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from vigil.model import Tlp
from vigil.protocol.header_form import MAX_TOKEN_LEN
from vigil.stix.tlp import TLP_ORDER

_TLP = {"white": Tlp.CLEAR, "clear": Tlp.CLEAR, "green": Tlp.GREEN, "amber": Tlp.AMBER,
        "amber+strict": Tlp.AMBER_STRICT, "red": Tlp.RED}
HANDLING_NAMESPACES = ("pap", "admiralty-scale", "europol-", "iep", "cnsd")
# a galaxy cluster as misp-stix labels its object: misp-galaxy:TYPE="VALUE"
GALAXY_LABEL = re.compile(r'^misp-galaxy:([^=]+)="(.*)"$', re.S)


@dataclass(frozen=True, slots=True)
class Marking:
    tlp: Tlp | None  # None: no TLP tag
    codes: tuple[str, ...]  # handling codes
    labels: tuple[str, ...]  # the other tags


def code_of(tag: str) -> str | None:
    """The handling code a tag stands for, or None when it is a plain label."""
    t = tag.strip().lower()
    ns = t.split(":", 1)[0].split("=", 1)[0]
    if not any(ns == h or (h.endswith("-") and ns.startswith(h)) or
               (h == "iep" and ns.startswith("iep")) for h in HANDLING_NAMESPACES):
        return None
    code = t.replace('"', "")
    return code if 0 < len(code) <= MAX_TOKEN_LEN else None


def read_tags(names: Iterable[str]) -> Marking:
    tlps: list[Tlp] = []
    codes: list[str] = []
    labels: list[str] = []
    for name in names:
        t = name.strip()
        low = t.lower()
        if low.startswith("tlp:") and low[4:] in _TLP:
            tlps.append(_TLP[low[4:]])
            continue
        code = code_of(t)
        if code is not None:
            codes.append(code)
        else:
            labels.append(t)
    tlp = max(tlps, key=TLP_ORDER.index) if tlps else None
    return Marking(tlp, tuple(sorted(set(codes))), tuple(dict.fromkeys(labels)))
