"""The MISP export carries a share's evaluation (the admiralty-scale taxonomy) and its
legal basis and purposes as tags."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import four_member_exchange
from tests.taxii.conftest import Taxii
from tests.web.test_bad_input import indicator

from vigil.bus.local import LocalBus
from vigil.node.exchange import Exchange
from vigil.testing import TestNode
from vigil.web import create_app

PARAMS = {"tlp": "amber", "to": "group1", "theme": "organised-crime/drug-trafficking",
          "evaluation": "4x4:B3", "legal_basis": "un-untoc",
          "legal_purpose": ["investigation", "prevention"]}


class LocalTaxii(Taxii):
    """The TAXII helper over an exchange this module opened itself."""

    def __init__(self, node: TestNode, client: TestClient, exchange: Exchange) -> None:
        self.node, self.client, self.exchange = node, client, exchange


@pytest.fixture
def taxii(tmp_path: Path) -> Iterator[Taxii]:
    node, ex = four_member_exchange(tmp_path / "node")
    with TestClient(create_app(node.settings, exchange=ex, bus=LocalBus())) as client:
        yield LocalTaxii(node, client, ex)
    ex.store.close()



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
