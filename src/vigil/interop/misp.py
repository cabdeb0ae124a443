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
from vigil.interop.misp_audience import (
    COMMUNITY,
    RANK,
    Proposal,
    audience_rank,
    check_audience,
    check_tlp,
    propose,
)
from vigil.interop.misp_export import to_misp
from vigil.interop.misp_losses import Loss, conversion_errors, last_line, resolve_references
from vigil.interop.misp_parser import objects_of, parser_class
from vigil.interop.misp_tags import GALAXY_LABEL, Marking, read_tags
from vigil.stix.validate import ObjectChecker

log = logging.getLogger("vigil.interop")

# what other modules take from here: the whole MISP interface in one place
__all__ = ["COMMUNITY", "Converted", "Loss", "Proposal", "check_audience", "check_tlp",
           "convert", "events_of", "propose", "resolve_references", "to_misp", "to_stix"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    r = RANK.get(str(d)) if d is not None else None  # 5 (inherit) and none: the event's
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
    for p in conversion_errors(parser.errors):
        where = [pointers[u] for u in _UUID.findall(p) if pointers.get(u, "/Event") != "/Event"]
        losses.append(Loss(where[0] if where else "/Event", "", "misp.conversion_error",
                           last_line(p)))
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


_ATTACK_ID = re.compile(r" - ((?:T|TA|G|S|M|DS|C)\d{4}(?:\.\d{3})?)$")


def _attack_ids(objects: list[dict[str, Any]]) -> None:
    """An ATT&CK cluster ("Spearphishing Attachment - T1566.001") keeps its ATT&CK id
    as the ``mitre-attack`` external reference STIX tools look for."""
    for obj in objects:
        for label in obj.get("labels") or ():
            m = GALAXY_LABEL.match(label)
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


