"""Traffic Light Protocol marking definitions, STIX 2.1 (TLP 1.0) and TLP 2.0.

* TLP 1.0: the four marking-definition objects predefined by STIX 2.1, section 7.2.1.4
  (``definition_type: "tlp"``). TLP:WHITE maps to :attr:`Tlp.CLEAR`.
* TLP 2.0: the five objects published by the OASIS CTI TC in
  ``oasis-open/cti-stix-common-objects`` (``extension-definition--60a3c5c5-...``
  property extension, ``tlp_2_0`` = ``clear|green|amber|amber+strict|red``).

vigil emits TLP 2.0 markings only; it reads both.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from vigil.errors import InputError
from vigil.model import Tlp

__all__ = [
    "TLP1_MARKING_IDS",
    "TLP2_EXTENSION_ID",
    "TLP2_MARKING_IDS",
    "TLP_ORDER",
    "bundle_tlp",
    "marking_definition_for",
    "marking_id_for",
    "narrowest",
    "parse_tlp",
    "tlp_from_marking_id",
]

TLP_ORDER: tuple[Tlp, ...] = (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER, Tlp.AMBER_STRICT, Tlp.RED)
"""Widest first."""
_RANK = {t: i for i, t in enumerate(TLP_ORDER)}

TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

TLP1_MARKING_IDS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",  # TLP:WHITE
    Tlp.GREEN: "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    Tlp.AMBER: "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    Tlp.RED: "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}

TLP2_MARKING_IDS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

_BY_ID: dict[str, Tlp] = {
    **{v: k for k, v in TLP1_MARKING_IDS.items()},
    **{v: k for k, v in TLP2_MARKING_IDS.items()},
}

_TLP2_NAMES = {
    Tlp.CLEAR: "TLP:CLEAR",
    Tlp.GREEN: "TLP:GREEN",
    Tlp.AMBER: "TLP:AMBER",
    Tlp.AMBER_STRICT: "TLP:AMBER+STRICT",
    Tlp.RED: "TLP:RED",
}

_WORDS: dict[str, Tlp] = {
    "clear": Tlp.CLEAR,
    "white": Tlp.CLEAR,
    "green": Tlp.GREEN,
    "amber": Tlp.AMBER,
    "amber+strict": Tlp.AMBER_STRICT,
    "red": Tlp.RED,
}


def tlp_from_marking_id(marking_id: str) -> Tlp | None:
    """The TLP level of a TLP 1.0 or 2.0 marking-definition id, else ``None``."""
    return _BY_ID.get(marking_id)


def marking_id_for(tlp: Tlp) -> str:
    """The TLP 2.0 marking-definition id for ``tlp``."""
    return TLP2_MARKING_IDS[tlp]


def marking_definition_for(tlp: Tlp) -> dict[str, Any]:
    """A fresh copy of the official TLP 2.0 marking-definition object for ``tlp``."""
    return copy.deepcopy(_TLP2_OBJECTS[tlp])


def parse_tlp(text: str) -> Tlp:
    """``"amber"``, ``"AMBER+STRICT"``, ``"TLP:AMBER"``, ``"tlp:white"``, ``"TLP: red"``
    ... -> :class:`Tlp`. ``white`` means ``clear``. ``amber strict``/``amber-strict``/
    ``amber_strict`` are read as ``amber+strict``. Raises ``InputError`` (``input.tlp``)
    for anything else."""
    if isinstance(text, str):
        s = text.strip().lower()
        if s.startswith("tlp:"):
            s = s[4:].strip()
        s = " ".join(s.split())
        for sep in (" + ", "+", " ", "-", "_"):
            s = s.replace("amber" + sep + "strict", "amber+strict")
        found = _WORDS.get(s)
        if found is not None:
            return found
    raise InputError(
        f"unknown TLP level {str(text)[:40]!r}: use clear, green, amber, amber+strict or red",
        code="input.tlp",
    )


def narrowest(levels: Iterable[Tlp]) -> Tlp | None:
    """The most restrictive of ``levels`` (``None`` if empty)."""
    best: Tlp | None = None
    for t in levels:
        if best is None or _RANK[t] > _RANK[best]:
            best = t
    return best


def bundle_tlp(objects: Iterable[Any]) -> Tlp | None:
    """The narrowest TLP named by any ``object_marking_refs`` of ``objects`` (the
    ``objects`` list of a bundle), or ``None`` if none names a TLP marking. Malformed
    entries are skipped: validate the bundle first."""
    best = -1
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        refs = obj.get("object_marking_refs")
        if not isinstance(refs, list):
            continue
        for ref in refs:
            if isinstance(ref, str):
                t = _BY_ID.get(ref)
                if t is not None and _RANK[t] > best:
                    best = _RANK[t]
    return TLP_ORDER[best] if best >= 0 else None


def _tlp2_object(tlp: Tlp) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_MARKING_IDS[tlp],
        "created": "2022-10-01T00:00:00.000Z",
        "name": _TLP2_NAMES[tlp],
        "extensions": {
            TLP2_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": tlp.value,
            }
        },
    }


_TLP2_OBJECTS: dict[Tlp, dict[str, Any]] = {t: _tlp2_object(t) for t in TLP_ORDER}
