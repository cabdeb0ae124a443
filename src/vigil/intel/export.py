"""A share's evaluation and legal basis as other tools carry them.

* MISP: the ``admiralty-scale`` taxonomy's tags (``admiralty-scale:source-reliability``,
  ``admiralty-scale:information-credibility``; a 4x4 evaluation is given in its
  Admiralty equivalent and also as a ``vigil:evaluation`` tag), and ``vigil:legal-basis``,
  ``vigil:purpose`` and ``vigil:personal-data`` tags.
* STIX/TAXII: the custom properties ``x_vigil_evaluation`` (``{scheme, source,
  information, admiralty}``) and ``x_vigil_legal`` (``{basis, purposes,
  personal_data}``) on every object served from the share.
"""

from __future__ import annotations

from typing import Any

import orjson

from vigil.intel import evaluation, legal
from vigil.model import ShareHeader


def misp_tags(header: ShareHeader) -> list[dict[str, str]]:
    names: list[str] = []
    ev = evaluation.from_header(header)
    if ev is not None:
        adm = evaluation.to_scheme(ev, evaluation.ADMIRALTY)
        names += [f'admiralty-scale:source-reliability="{adm.source.lower()}"',
                  f'admiralty-scale:information-credibility="{adm.information}"']
        if ev.scheme != evaluation.ADMIRALTY:
            names.append(f'vigil:evaluation="{evaluation.code(ev)}"')
    lg = legal.from_header(header)
    if lg is not None:
        names.append(f'vigil:legal-basis="{lg.basis}"')
        names += [f'vigil:purpose="{p}"' for p in lg.purposes]
        if legal.personal_data(header):
            names.append('vigil:personal-data="true"')
    return [{"name": n} for n in names]


def add_misp_tags(event: dict[str, Any], header: ShareHeader) -> dict[str, Any]:
    """The MISP event (``{"Event": …}``) with the share's evaluation and legal tags."""
    tags = misp_tags(header)
    if tags:
        ev = event.setdefault("Event", {})
        have = {t.get("name") for t in ev.get("Tag") or [] if isinstance(t, dict)}
        ev["Tag"] = [*(ev.get("Tag") or []), *(t for t in tags if t["name"] not in have)]
    return event


def stix_properties(header: ShareHeader) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ev = evaluation.from_header(header)
    if ev is not None:
        out["x_vigil_evaluation"] = {**evaluation.to_header(ev), "admiralty": evaluation.code(
            evaluation.to_scheme(ev, evaluation.ADMIRALTY))}
    if header.get("legal") is not None:
        out["x_vigil_legal"] = dict(header["legal"])
    return out


def with_stix_properties(body: bytes, header: ShareHeader) -> bytes:
    """One served STIX object's JSON with the share's evaluation and legal basis."""
    extra = stix_properties(header)
    if not extra:
        return body
    obj = orjson.loads(body)
    if not isinstance(obj, dict):
        return body
    for k, v in extra.items():
        obj.setdefault(k, v)
    return orjson.dumps(obj)
