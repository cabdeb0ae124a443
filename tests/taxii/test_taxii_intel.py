"""A share's evaluation and legal basis travel with it: on every TAXII object served
from it, and as MISP tags (the admiralty-scale taxonomy) in the MISP export."""

from __future__ import annotations

from tests.taxii.conftest import Taxii
from tests.web.helpers import indicator

PARAMS = {"tlp": "amber", "to": "group1", "theme": "organised-crime/drug-trafficking",
          "evaluation": "4x4:B3", "legal_basis": "un-untoc",
          "legal_purpose": ["investigation", "prevention"]}


def test_taxii_objects_carry_evaluation_and_legal_basis(taxii: Taxii) -> None:
    obj = indicator()
    taxii.publish("alpha", [obj], **PARAMS)
    inbox = taxii.collection("bravo", "inbox")
    got = taxii.all_objects("bravo", inbox)
    served = next(o for o in got if o["id"] == obj["id"])
    assert served["x_vigil_evaluation"] == {"scheme": "4x4", "source": "B",
                                            "information": "3", "admiralty": "B3"}
    assert served["x_vigil_legal"] == {"basis": "un-untoc",
                                       "purposes": ["investigation", "prevention"],
                                       "personal_data": False}
    # a cyber share carries none
    plain = indicator()
    taxii.publish("alpha", [plain], tlp="amber", to="group1", theme="cyber")
    served = next(o for o in taxii.all_objects("bravo", inbox) if o["id"] == plain["id"])
    assert "x_vigil_evaluation" not in served and "x_vigil_legal" not in served


def test_taxii_filters_by_theme(taxii: Taxii) -> None:
    t, c = indicator(), indicator()
    taxii.publish("alpha", [t], **{**PARAMS, "theme": "terrorism/financing"})
    taxii.publish("alpha", [c], tlp="amber", to="group1", theme="cyber")
    inbox = taxii.collection("bravo", "inbox")

    def ids(theme: str) -> set[str]:
        return {o["id"] for o in taxii.all_objects("bravo", inbox,
                                                   **{"match[x_vigil_theme]": theme})}

    assert ids("terrorism") == {t["id"]}
    assert ids("cyber") == {c["id"]}
    assert ids("organised-crime") == set()
    assert ids("terrorism,cyber") == {t["id"], c["id"]}
