"""MISP JSON events in and out, through misp-stix and PyMISP (the libraries MISP uses).

In: :func:`convert` turns one MISP event (as PyMISP writes it) into the STIX 2.1
objects of one share. Attributes and objects whose own distribution is narrower than
the audience asked for are left out; misp-stix converts the rest (galaxies, ATT&CK
among them, become STIX objects); every object is checked by vigil's validator, and
every reference must point at an object of the share (a container's ``object_refs``
drop the missing ones; any other dangling reference refuses its object). Nothing is
dropped silently: each loss names the MISP attribute or object it comes from (a JSON
pointer into the input), the STIX id, a stable code and the reason.

Audience: :func:`propose` reads the event's distribution and sharing group (a channel
of the same name, when the member has one); :func:`check_audience` refuses an audience
wider than the event's. Tags: see :mod:`vigil.interop.misp_tags`.

Out: :func:`to_misp` turns the STIX bundle of one share into a MISP event (misp-stix's
internal parser for STIX that misp-stix wrote, its external parser for the rest) that
``pymisp.MISPEvent`` loads.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from vigil.errors import InputError
from vigil.interop.misp_parser import objects_of, parser_class
from vigil.interop.misp_tags import Marking, read_tags
from vigil.model import Tlp
from vigil.stix.tlp import TLP1_MARKING_IDS, TLP2_MARKING_IDS, TLP_ORDER
from vigil.stix.validate import ObjectChecker

log = logging.getLogger("vigil.interop")

# distribution -> how wide: 0 the organisation, 2 a sharing group, 3 the community
ORG, GROUP, COMMUNITY = 0, 2, 3
_RANK = {"0": ORG, "1": COMMUNITY, "2": COMMUNITY, "3": COMMUNITY, "4": GROUP}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_STANDARD_MARKINGS = frozenset({*TLP1_MARKING_IDS.values(), *TLP2_MARKING_IDS.values()})
_CONTAINER_REFS = "object_refs"


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


@dataclass(slots=True)
class Converted:
    uuid: str
    info: str
    marking: Marking
    proposal: Proposal
    objects: list[dict[str, Any]] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)

    def bundle(self) -> bytes:
        return orjson.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                             "objects": self.objects})

    def report(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "info": self.info, "objects": len(self.objects),
                "tlp": self.marking.tlp.value if self.marking.tlp else None,
                "codes": list(self.marking.codes), "labels": list(self.marking.labels),
                "proposal": self.proposal.to_dict(),
                "losses": [x.to_dict() for x in self.losses]}


# -- reading MISP JSON ---------------------------------------------------------------

def events_of(doc: Any) -> list[dict[str, Any]]:
    """The events of a MISP JSON document, each as ``{"Event": {...}}``: one event
    (wrapped or bare), a list of them, or a REST answer ``{"response": [...]}``."""
    if isinstance(doc, dict) and isinstance(doc.get("response"), list):
        doc = doc["response"]
    items = doc if isinstance(doc, list) else [doc]
    out = []
    for i, item in enumerate(items):
        ev = item.get("Event", item) if isinstance(item, dict) else None
        if not isinstance(ev, dict) or not isinstance(ev.get("Attribute", []), list) \
                or not ("info" in ev or "Attribute" in ev or "Object" in ev):
            raise InputError("not a MISP event (an object with Event, info, Attribute or "
                             "Object)", code="misp.not_an_event", pointer=f"/{i}")
        out.append({"Event": ev})
    return out


def tag_names(tags: Any) -> list[str]:
    return [str(t["name"]) for t in tags or () if isinstance(t, dict) and t.get("name")]


# -- audience --------------------------------------------------------------------------

def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def propose(event: dict[str, Any], channels: Iterable[str] = ()) -> Proposal:
    """The audience the event's distribution allows, given the member's channel names."""
    ev = event["Event"]
    dist = ev.get("distribution")
    dist = None if dist is None else str(dist)
    sg = ev.get("SharingGroup") if isinstance(ev.get("SharingGroup"), dict) else None
    sg_name = str(sg["name"]) if sg and sg.get("name") else None
    widest = _RANK.get(dist) if dist is not None else None
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


# -- MISP -> STIX ------------------------------------------------------------------------

def _pointers(ev: dict[str, Any]) -> dict[str, str]:
    """uuid -> JSON pointer of every attribute, object, reference and galaxy cluster."""
    out: dict[str, str] = {}
    if isinstance(ev.get("uuid"), str):
        out[ev["uuid"]] = "/Event"
    for i, a in enumerate(ev.get("Attribute") or ()):
        if isinstance(a, dict) and isinstance(a.get("uuid"), str):
            out[a["uuid"]] = f"/Event/Attribute/{i}"
    for j, o in enumerate(ev.get("Object") or ()):
        if not isinstance(o, dict):
            continue
        if isinstance(o.get("uuid"), str):
            out[o["uuid"]] = f"/Event/Object/{j}"
        for k, a in enumerate(o.get("Attribute") or ()):
            if isinstance(a, dict) and isinstance(a.get("uuid"), str):
                out[a["uuid"]] = f"/Event/Object/{j}/Attribute/{k}"
        for k, r in enumerate(o.get("ObjectReference") or ()):
            if isinstance(r, dict) and isinstance(r.get("uuid"), str):
                out[r["uuid"]] = f"/Event/Object/{j}/ObjectReference/{k}"
    for g, gal in enumerate(ev.get("Galaxy") or ()):
        for c, cl in enumerate((gal or {}).get("GalaxyCluster") or ()):
            if isinstance(cl, dict) and isinstance(cl.get("uuid"), str):
                out[cl["uuid"]] = f"/Event/Galaxy/{g}/GalaxyCluster/{c}"
    return out


def _pointer(pointers: dict[str, str], stix_id: str) -> str:
    m = _UUID.search(stix_id)
    return pointers.get(m.group(0), "/Event") if m else "/Event"


def _narrower(item: dict[str, Any], rank: int) -> bool:
    d = item.get("distribution")
    r = _RANK.get(str(d)) if d is not None else None  # 5 (inherit) and none: the event's
    return r is not None and r < rank


def _keep_within(ev: dict[str, Any], rank: int, losses: list[Loss]) -> dict[str, Any]:
    """The event without the attributes and objects whose own distribution is narrower
    than the audience (each one a loss)."""
    out = dict(ev)
    attrs = []
    for i, a in enumerate(ev.get("Attribute") or ()):
        if isinstance(a, dict) and _narrower(a, rank):
            losses.append(Loss(f"/Event/Attribute/{i}", "", "misp.distribution_narrower",
                               f"its distribution {a.get('distribution')} is narrower than "
                               "the audience"))
        else:
            attrs.append(a)
    objs = []
    for j, o in enumerate(ev.get("Object") or ()):
        if isinstance(o, dict) and _narrower(o, rank):
            losses.append(Loss(f"/Event/Object/{j}", "", "misp.distribution_narrower",
                               f"its distribution {o.get('distribution')} is narrower than "
                               "the audience"))
            continue
        if isinstance(o, dict):
            inner = []
            for k, a in enumerate(o.get("Attribute") or ()):
                if isinstance(a, dict) and _narrower(a, rank):
                    losses.append(Loss(f"/Event/Object/{j}/Attribute/{k}", "",
                                       "misp.distribution_narrower",
                                       f"its distribution {a.get('distribution')} is "
                                       "narrower than the audience"))
                else:
                    inner.append(a)
            o = {**o, "Attribute": inner}
        objs.append(o)
    out["Attribute"], out["Object"] = attrs, objs
    return out


def _refs(value: Any, out: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(property, id) of every reference in an object (``*_ref`` and ``*_refs``), in
    the object's order, added to ``out``."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                if k.endswith("_ref"):
                    out.append((k, v))
            elif k.endswith("_refs") and isinstance(v, list):
                out.extend((k, x) for x in v if isinstance(x, str))
            elif isinstance(v, dict | list):
                _refs(v, out)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, dict | list):
                _refs(v, out)
    return out


def resolve_references(objects: list[dict[str, Any]], pointer_of: Any,
                       losses: list[Loss]) -> list[dict[str, Any]]:
    """Objects whose every reference points at an object kept (or a standard TLP
    marking): a container's ``object_refs`` lose their missing members; an object with
    any other missing reference is refused, and so, in turn, are those that point at
    it."""
    kept = {o["id"]: o for o in objects}
    # each object's references, read once (an object is only ever narrowed)
    refs = {oid: [(k, r) for k, r in _refs(o, []) if r not in _STANDARD_MARKINGS]
            for oid, o in kept.items()}
    while True:
        changed = False
        for oid, obj in list(kept.items()):
            missing = [(k, r) for k, r in refs[oid] if r not in kept]
            if not missing:
                continue
            changed = True
            if all(k == _CONTAINER_REFS for k, _ in missing) and \
                    len(obj.get(_CONTAINER_REFS, ())) > len(missing):
                gone = {r for _, r in missing}
                kept[oid] = {**obj, _CONTAINER_REFS: [r for r in obj[_CONTAINER_REFS]
                                                       if r not in gone]}
                refs[oid] = [(k, r) for k, r in refs[oid] if r not in gone]
                continue
            k, r = missing[0]
            losses.append(Loss(pointer_of(oid), oid, "misp.dangling_reference",
                               f"{k} points at {r}, which is not in the share"))
            del kept[oid]
        if not changed:
            return [kept[o["id"]] for o in objects if o["id"] in kept]


def _problems(errors: Any) -> list[str]:
    """misp-stix's errors (a dict of lists or strings) as messages."""
    out = []
    for where, problems in (errors or {}).items():
        for p in problems if isinstance(problems, list | tuple | set) else [problems]:
            out.append(f"{where}: {p}")
    return out


def _last_line(text: str) -> str:
    """A misp-stix message without its traceback: what it was about and the cause."""
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    if len(lines) <= 1:
        return text[:500]
    return f"{lines[0]} … {lines[-1]}"[:500]


_CLUSTER_NS = uuid.UUID("0b3c6a56-2a0e-5f0c-8f4e-6d6973702d67")


def _named_clusters(galaxies: Any, seen: set[str]) -> Any:
    """Galaxies whose clusters each have a uuid of their own: a cluster without one
    (PyMISP writes them so), or with one an earlier cluster of the event has, gets a
    stable one from its galaxy type and value. misp-stix names each cluster's STIX
    object by its uuid: it refuses the whole event for a missing one, and keeps only
    the first of clusters that share one."""
    if not isinstance(galaxies, list):
        return galaxies
    out = []
    for gal in galaxies:
        if isinstance(gal, dict) and isinstance(gal.get("GalaxyCluster"), list):
            clusters = []
            for cl in gal["GalaxyCluster"]:
                if isinstance(cl, dict):
                    u = str(cl.get("uuid") or "")
                    if not _UUID.fullmatch(u) or u in seen:
                        name = f"{cl.get('type') or gal.get('type')}:{cl.get('value')}"
                        cl = {**cl, "uuid": str(uuid.uuid5(_CLUSTER_NS, name))}
                    seen.add(str(cl["uuid"]))
                clusters.append(cl)
            gal = {**gal, "GalaxyCluster": clusters}
        out.append(gal)
    return out


def _with_cluster_ids(ev: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()

    def attrs(items: Any) -> Any:
        return [{**a, "Galaxy": _named_clusters(a["Galaxy"], seen)}
                if isinstance(a, dict) and a.get("Galaxy") else a for a in items or ()]

    out = dict(ev)
    if ev.get("Galaxy"):
        out["Galaxy"] = _named_clusters(ev["Galaxy"], seen)
    out["Attribute"] = attrs(ev.get("Attribute"))
    out["Object"] = [{**o, "Attribute": attrs(o.get("Attribute"))} if isinstance(o, dict)
                     else o for o in ev.get("Object") or ()]
    return out


def to_stix(event: dict[str, Any], rank: int = COMMUNITY, *, fast: bool = True,
            checker: ObjectChecker | None = None
            ) -> tuple[list[dict[str, Any]], list[Loss]]:
    """The STIX 2.1 objects of one MISP event, for an audience of ``rank``, and the
    losses. ``fast``: the plain attributes of the common types are written directly
    (:mod:`vigil.interop.misp_fast`), the same objects misp-stix writes; without it,
    misp-stix converts every attribute. ``checker`` validates the objects (one for the
    events of one request: its bound on slow pattern checks is the request's; by
    default one for this event)."""
    ev = event["Event"]
    pointers = _pointers(ev)
    losses: list[Loss] = []
    within = {"Event": _keep_within(_with_cluster_ids(ev), rank, losses)}
    parser = parser_class(fast)()
    try:
        parser.parse_misp_event(within)
    except Exception as exc:  # misp-stix refuses the event as a whole
        raise InputError(f"misp-stix cannot convert the event: {exc}",
                         code="misp.unconvertible", pointer="/Event") from exc
    for p in _problems(parser.errors):
        where = [pointers[u] for u in _UUID.findall(p) if pointers.get(u, "/Event") != "/Event"]
        losses.append(Loss(where[0] if where else "/Event", "", "misp.conversion_error",
                           _last_line(p)))
    objects = objects_of(parser)
    _keep_comments(within["Event"], objects)
    _attack_ids(objects)
    good: list[dict[str, Any]] = []
    checker = checker or ObjectChecker()  # the slow pattern parse is bounded
    for obj in objects:
        problems = checker.check(obj)
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            losses.append(Loss(_pointer(pointers, obj.get("id", "")), str(obj.get("id", "")),
                               first.code, f"{first.pointer or '/'}: {first.message}{more}"))
        else:
            good.append(obj)
    good = resolve_references(good, lambda oid: _pointer(pointers, oid), losses)
    return good, losses


def convert(event: dict[str, Any], *, to: Sequence[str] | None = None,
            channels: Iterable[str] = (), fast: bool = True,
            checker: ObjectChecker | None = None) -> Converted:
    """One MISP event as the objects of one share for the audience ``to`` (None: the
    proposed one, else the widest the event allows), with its losses and proposal."""
    ev = event["Event"]
    proposal = propose(event, channels)
    if to is not None:
        check_audience(proposal, to)
        rank = audience_rank(to)
    else:
        rank = proposal.widest if proposal.widest is not None else COMMUNITY
    marking = read_tags(tag_names(ev.get("Tag")))
    objects, losses = to_stix(event, rank, fast=fast, checker=checker)
    return Converted(str(ev.get("uuid", "")), str(ev.get("info", "")), marking, proposal,
                     objects, losses)


# -- STIX -> MISP ------------------------------------------------------------------------

def to_misp(bundle: bytes) -> tuple[dict[str, Any], list[Loss]]:
    """One share's STIX bundle as a MISP event (``{"Event": {...}}``) and its losses."""
    import stix2
    from misp_stix_converter import ExternalSTIX2toMISPParser, InternalSTIX2toMISPParser
    from misp_stix_converter.tools.stix2_to_misp_helpers import is_stix2_from_misp

    objects = orjson.loads(bundle).get("objects", [])
    losses: list[Loss] = []
    parsed = []
    for i, obj in enumerate(objects):
        try:
            parsed.append(stix2.parse(obj, allow_custom=True))
        except Exception as exc:
            losses.append(Loss(f"/objects/{i}", str(obj.get("id", "")), "misp.unparsable",
                               str(exc).splitlines()[0][:300]))
    stix_bundle = stix2.v21.Bundle(objects=parsed, allow_custom=True)
    internal = is_stix2_from_misp(objects)
    parser: Any = InternalSTIX2toMISPParser() if internal else ExternalSTIX2toMISPParser()
    parser.load_stix_bundle(stix_bundle)
    parser.parse_stix_bundle(single_event=True)
    for p in _problems(parser.errors):
        m = _UUID.search(p)
        losses.append(Loss("/objects", m.group(0) if m else "", "misp.conversion_error",
                           _last_line(p)))
    event: dict[str, Any] = orjson.loads(parser.misp_event.to_json())
    event = event.get("Event", event)
    _comments_back(event, objects)
    _cluster_values_back(event, objects)
    return {"Event": event}, losses


_GALAXY_LABEL = re.compile(r'^misp-galaxy:([^=]+)="(.*)"$', re.S)
_ATTACK_ID = re.compile(r" - ((?:T|TA|G|S|M|DS|C)\d{4}(?:\.\d{3})?)$")


def _attack_ids(objects: list[dict[str, Any]]) -> None:
    """An ATT&CK cluster ("Spearphishing Attachment - T1566.001") keeps its ATT&CK id
    as the ``mitre-attack`` external reference STIX tools look for."""
    for obj in objects:
        for label in obj.get("labels") or ():
            m = _GALAXY_LABEL.match(label)
            a = _ATTACK_ID.search(m.group(2)) if m and m.group(1).startswith("mitre-") \
                else None
            if a is None:
                continue
            refs = obj.setdefault("external_references", [])
            if not any(r.get("external_id") == a.group(1) for r in refs):
                refs.append({"source_name": "mitre-attack", "external_id": a.group(1)})


def _keep_comments(ev: dict[str, Any], objects: list[dict[str, Any]]) -> None:
    """Comments misp-stix drops: an attribute that is not for IDS becomes observed-data,
    which has no ``description``; its comment goes in ``x_misp_comment``."""
    comments = {str(a.get("uuid")): a["comment"] for a in ev.get("Attribute") or ()
                if isinstance(a, dict) and a.get("comment")}
    if not comments:
        return
    described = {m.group(0) for o in objects if o.get("description")
                 for m in [_UUID.search(str(o.get("id", "")))] if m}
    for obj in objects:
        m = _UUID.search(str(obj.get("id", "")))
        if obj.get("type") == "observed-data" and m and m.group(0) in comments \
                and m.group(0) not in described:
            obj["x_misp_comment"] = comments[m.group(0)]


def _cluster_values_back(event: dict[str, Any], objects: list[Any]) -> None:
    """Galaxy cluster values as the event had them: misp-stix names a cluster's STIX
    object without its ATT&CK id ("Spearphishing Attachment") and reads that name
    back; the full value is in the object's ``misp-galaxy:`` label."""
    full: dict[str, str] = {}
    for obj in objects:
        m = _UUID.search(str(obj.get("id", ""))) if isinstance(obj, dict) else None
        if m is None:
            continue
        for label in obj.get("labels") or ():
            g = _GALAXY_LABEL.match(label)
            if g:
                full[m.group(0)] = g.group(2)
    if not full:
        return
    short: dict[str, str] = {}

    def fix(galaxies: Any) -> None:
        for gal in galaxies or ():
            for cl in gal.get("GalaxyCluster") or () if isinstance(gal, dict) else ():
                value = full.get(str(cl.get("uuid")))
                if value and value != cl.get("value") and \
                        value.startswith(str(cl.get("value"))):
                    short[f'misp-galaxy:{cl.get("type")}="{cl["value"]}"'] = \
                        f'misp-galaxy:{cl.get("type")}="{value}"'
                    cl["value"] = value

    fix(event.get("Galaxy"))
    for a in event.get("Attribute") or ():
        fix(a.get("Galaxy"))
    for tags in [event.get("Tag") or []] + [a.get("Tag") or [] for a in
                                             event.get("Attribute") or ()]:
        for t in tags:
            if isinstance(t, dict) and t.get("name") in short:
                t["name"] = short[t["name"]]


def _comments_back(event: dict[str, Any], objects: list[Any]) -> None:
    """Put back the comments misp-stix wrote as a STIX ``description`` (of the object
    named by the attribute's or MISP object's uuid) and does not read back."""
    said: dict[str, str] = {}
    for obj in objects:
        m = _UUID.search(str(obj.get("id", ""))) if isinstance(obj, dict) else None
        text = obj.get("description") or obj.get("x_misp_comment") if m else None
        if m and isinstance(text, str):
            said.setdefault(m.group(0), text)
    items = list(event.get("Attribute") or ())
    for o in event.get("Object") or ():
        items.append(o)
        for a in o.get("Attribute") or () if isinstance(o, dict) else ():
            # misp-stix notes which indicator an object attribute was read from (and
            # an object's STIX id is its MISP uuid): not a comment the event had
            if isinstance(a, dict) and a.get("comment") == \
                    f"Indicator ID: indicator--{o.get('uuid')}":
                a["comment"] = ""
    for item in items:
        if isinstance(item, dict) and not item.get("comment") and item.get("uuid") in said:
            item["comment"] = said[item["uuid"]]
