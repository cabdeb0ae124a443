"""What of a MISP event does not make it into its share, one loss at a time
(:class:`Loss`): misp-stix's own messages, and the references of the converted objects
resolved or refused (:func:`resolve_references`)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from vigil.stix.tlp import TLP1_MARKING_IDS, TLP2_MARKING_IDS

STANDARD_MARKINGS = frozenset({*TLP1_MARKING_IDS.values(), *TLP2_MARKING_IDS.values()})
CONTAINER_REFS = "object_refs"


@dataclass(frozen=True, slots=True)
class Loss:
    """One thing of the input that did not make it, and why."""

    pointer: str  # JSON pointer into the MISP input (or the STIX bundle, on export)
    stix_id: str
    code: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "stix_id": self.stix_id, "code": self.code,
                "reason": self.reason}


def conversion_errors(errors: Any) -> list[str]:
    """misp-stix's errors (a dict of lists or strings) as messages."""
    out = []
    for where, problems in (errors or {}).items():
        for p in problems if isinstance(problems, list | tuple | set) else [problems]:
            out.append(f"{where}: {p}")
    return out


def last_line(text: str) -> str:
    """A misp-stix message without its traceback: what it was about and the cause."""
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    if len(lines) <= 1:
        return text[:500]
    return f"{lines[0]} … {lines[-1]}"[:500]


def object_references(value: Any, out: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(property, id) of every reference in an object (``*_ref`` and ``*_refs``), in
    the object's order, added to ``out``. (JSON's own types are told apart by
    ``type``, the quick test; anything else takes the general one.)"""
    if type(value) is dict:
        for k, v in value.items():
            t = type(v)
            if t is str:
                if k.endswith("_ref"):
                    out.append((k, v))
            elif t is list:
                if k.endswith("_refs"):
                    out.extend((k, x) for x in v if isinstance(x, str))
                else:
                    for x in v:
                        if type(x) is not str:
                            object_references(x, out)
            elif t is dict:
                object_references(v, out)
            elif t is not int and t is not float and t is not bool and v is not None:
                _refs_any(k, v, out)
    elif type(value) is list:
        for v in value:
            if type(v) is not str:
                object_references(v, out)
    elif isinstance(value, dict | list):
        _refs_any("", value, out)
    return out


def _refs_any(key: str, value: Any, out: list[tuple[str, str]]) -> None:
    """:func:`_refs` for a value of a subclass of dict, list or str."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                if k.endswith("_ref"):
                    out.append((k, v))
            elif k.endswith("_refs") and isinstance(v, list):
                out.extend((k, x) for x in v if isinstance(x, str))
            elif isinstance(v, dict | list):
                _refs_any(k, v, out)
    elif isinstance(value, list):
        if key.endswith("_refs"):
            out.extend((key, x) for x in value if isinstance(x, str))
            return
        for v in value:
            if isinstance(v, dict | list):
                _refs_any("", v, out)
    elif isinstance(value, str) and key.endswith("_ref"):
        out.append((key, value))


def resolve_references(objects: list[dict[str, Any]], pointer_of: Any,
                       losses: list[Loss]) -> list[dict[str, Any]]:
    """Objects whose every reference points at an object kept (or a standard TLP
    marking): a container's ``object_refs`` lose their missing members; an object with
    any other missing reference is refused, and so, in turn, are those that point at
    it.

    Pass after pass over the objects in their order, until a pass changes nothing; an
    object is looked at in a pass only when it can have changed since it was looked
    at last (one of its references was refused since), which gives the result and the
    losses, in their order, of looking at every object in every pass."""
    kept = {o["id"]: o for o in objects}
    # each object's references, read once (an object is only ever narrowed)
    refs = {oid: [(k, r) for k, r in object_references(o, []) if r not in STANDARD_MARKINGS]
            for oid, o in kept.items()}
    if all(r in kept for rs in refs.values() for _, r in rs):  # nothing to resolve
        return [kept[o["id"]] for o in objects]
    order = {oid: i for i, oid in enumerate(kept)}
    referrers: dict[str, list[str]] = {}
    for oid, rs in refs.items():
        for _, r in rs:
            referrers.setdefault(r, []).append(oid)
    this_pass: list[tuple[int, str]] = [(i, oid) for oid, i in order.items()]  # in order
    while this_pass:
        queued = {oid for _, oid in this_pass}
        next_pass: set[str] = set()
        while this_pass:
            at, oid = heapq.heappop(this_pass)
            obj = kept[oid]
            missing = [(k, r) for k, r in refs[oid] if r not in kept]
            if not missing:
                continue
            if all(k == CONTAINER_REFS for k, _ in missing) and \
                    len(obj.get(CONTAINER_REFS, ())) > len(missing):
                gone = {r for _, r in missing}
                kept[oid] = {**obj, CONTAINER_REFS: [r for r in obj[CONTAINER_REFS]
                                                       if r not in gone]}
                refs[oid] = [(k, r) for k, r in refs[oid] if r not in gone]
                continue
            k, r = missing[0]
            losses.append(Loss(pointer_of(oid), oid, "misp.dangling_reference",
                               f"{k} points at {r}, which is not in the share"))
            del kept[oid]
            for x in referrers.get(oid, ()):
                if x not in kept:
                    continue
                if order[x] > at:  # still to come in this pass
                    if x not in queued:
                        queued.add(x)
                        heapq.heappush(this_pass, (order[x], x))
                else:  # looked at in this pass already: in the next one
                    next_pass.add(x)
        this_pass = sorted((order[x], x) for x in next_pass if x in kept)
    return [kept[o["id"]] for o in objects if o["id"] in kept]
