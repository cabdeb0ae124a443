"""The MISP export carries a share's evaluation (the admiralty-scale taxonomy) and its
legal basis and purposes as tags."""

from __future__ import annotations

from tests.taxii.conftest import Taxii
from tests.taxii.conftest import taxii as taxii  # the fixture, shared
from tests.web.helpers import indicator

PARAMS = {"tlp": "amber", "to": "group1", "theme": "organised-crime/drug-trafficking",
          "evaluation": "4x4:B3", "legal_basis": "un-untoc",
          "legal_purpose": ["investigation", "prevention"]}


def test_misp_export_tags(taxii: Taxii) -> None:
    sid = taxii.publish("alpha", [indicator()], **{**PARAMS, "evaluation": "C2"})
    r = taxii.client.get("/api/v1/export/misp",
                         headers={"Authorization": taxii.h("bravo")["Authorization"]})
    assert r.status_code == 200, r.text
    ev = next(e for e in r.json()["events"] if e["share_id"] == sid)["event"]["Event"]
    tags = {t["name"] for t in ev["Tag"]}
    assert {'admiralty-scale:source-reliability="c"',
            'admiralty-scale:information-credibility="2"', 'vigil:legal-basis="un-untoc"',
            'vigil:purpose="investigation"', 'vigil:purpose="prevention"'} <= tags
