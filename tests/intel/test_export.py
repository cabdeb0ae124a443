"""A share's evaluation and legal basis as MISP tags and as STIX custom properties."""

from __future__ import annotations

from typing import Any, cast

import orjson

from vigil.intel.export import add_misp_tags, misp_tags, stix_properties, with_stix_properties
from vigil.model import ShareHeader


def header(**fields: Any) -> ShareHeader:
    return cast(ShareHeader, fields)


FOUR = {"scheme": "4x4", "source": "C", "information": "4"}
LEGAL = {"basis": "Art. 6 LED", "purposes": ["investigation", "prosecution"],
         "personal_data": True}


def test_misp_tags_give_admiralty_and_legal() -> None:
    names = [t["name"] for t in misp_tags(header(evaluation=FOUR, legal=LEGAL))]
    assert names == ['admiralty-scale:source-reliability="d"',
                     'admiralty-scale:information-credibility="6"',
                     'vigil:evaluation="4x4:C4"', 'vigil:legal-basis="Art. 6 LED"',
                     'vigil:purpose="investigation"', 'vigil:purpose="prosecution"',
                     'vigil:personal-data="true"']
    adm = header(evaluation={"scheme": "admiralty", "source": "B", "information": "2"})
    assert [t["name"] for t in misp_tags(adm)] == [
        'admiralty-scale:source-reliability="b"', 'admiralty-scale:information-credibility="2"']
    assert misp_tags(header()) == []


def test_add_misp_tags_keeps_existing_tags_once() -> None:
    event = {"Event": {"Tag": [{"name": 'vigil:legal-basis="Art. 6 LED"'}, {"name": "tlp:red"}]}}
    out = add_misp_tags(event, header(legal={**LEGAL, "personal_data": False}))
    assert [t["name"] for t in out["Event"]["Tag"]] == [
        'vigil:legal-basis="Art. 6 LED"', "tlp:red", 'vigil:purpose="investigation"',
        'vigil:purpose="prosecution"']
    assert add_misp_tags({"Event": {}}, header()) == {"Event": {}}


def test_stix_properties_on_served_objects() -> None:
    h = header(evaluation=FOUR, legal=LEGAL)
    assert stix_properties(h) == {
        "x_vigil_evaluation": {**FOUR, "admiralty": "D6"}, "x_vigil_legal": LEGAL}
    body = orjson.dumps({"type": "indicator", "x_vigil_legal": "own"})
    served = orjson.loads(with_stix_properties(body, h))
    assert served["x_vigil_legal"] == "own"  # a property the object has is kept
    assert served["x_vigil_evaluation"]["admiralty"] == "D6"
    assert with_stix_properties(body, header()) == body
    assert with_stix_properties(b"[1]", h) == b"[1]"
