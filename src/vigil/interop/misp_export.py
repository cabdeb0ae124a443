"""A share's STIX bundle as a MISP event (:func:`to_misp`): misp-stix's internal
parser for STIX that misp-stix wrote, its external parser for the rest, and what
misp-stix does not read back put back (comments, ATT&CK cluster values)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from vigil.interop.misp_losses import Loss, conversion_errors, last_line
from vigil.interop.misp_tags import GALAXY_LABEL

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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
    for p in conversion_errors(parser.errors):
        m = _UUID.search(p)
        losses.append(Loss("/objects", m.group(0) if m else "", "misp.conversion_error",
                           last_line(p)))
    event: dict[str, Any] = orjson.loads(parser.misp_event.to_json())
    event = event.get("Event", event)
    _comments_back(event, objects)
    _cluster_values_back(event, objects)
    return {"Event": event}, losses


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
            g = GALAXY_LABEL.match(label)
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
