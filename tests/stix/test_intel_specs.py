"""The objects of intelligence beyond cyber validate like the core types: vigil's new
SCOs for selectors (their extension definitions and schemas published in
vigil/data/stix) and the OASIS common event SDO."""

from __future__ import annotations

import copy
import json
import uuid
from importlib import resources
from typing import Any

import pytest

from vigil.errors import StixError
from vigil.stix.intel_specs import EVENT_EXTENSION, NEW_SCO_EXTENSIONS, PERSON_EXTENSION
from vigil.stix.validate import validate_bundle
from vigil.testing import stix

TS = "2026-12-01T00:00:00.000Z"
DATA = resources.files("vigil") / "data" / "stix"


def new_sco(kind: str, **props: Any) -> dict[str, Any]:
    return {"type": kind, "id": f"{kind}--{uuid.uuid4()}",
            "extensions": {NEW_SCO_EXTENSIONS[kind]: {"extension_type": "new-sco"}}, **props}


bundle = stix.bundle_doc


WALLET = new_sco("cryptocurrency-wallet", address="bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                 currency="BTC")
GOOD = [
    new_sco("phone-number", number="+447700900123", country="GB", phone_type="mobile"),
    new_sco("bank-account", iban="DE89370400440532013000", bic="COBADEFFXXX", currency="EUR"),
    new_sco("bank-account", account_number="000123456", country="US"),
    WALLET,
    new_sco("cryptocurrency-transaction", symbol="BTC", hash="a1b2c3", fee=0.0001,
            execution_time=TS, input=[{"address_ref": WALLET["id"], "amount": 0.5}]),
    {"type": "event", "spec_version": "2.1", "id": f"event--{uuid.uuid4()}", "created": TS,
     "modified": TS, "status": "occurred", "name": "arrest at the border",
     "start_time": TS, "end_time": TS,
     "extensions": {EVENT_EXTENSION: {"extension_type": "new-sdo"}}},
    {"type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}",
     "created": TS, "modified": TS, "name": "A. Person", "identity_class": "individual",
     "extensions": {PERSON_EXTENSION: {"extension_type": "property-extension",
                                       "date_of_birth": "1980-01-02"}}},
]


def test_every_kind_validates() -> None:
    validate_bundle(bundle(*GOOD))


BAD = [
    (0, "number", "12345", "stix.value"),
    (0, "number", None, "stix.required"),
    (0, "extensions", {}, "stix.extension"),
    (1, "iban", "de89 3704", "stix.value"),
    (2, "account_number", None, "stix.required"),
    (3, "address", "x", "stix.value"),
    (4, "input", [{"address_ref": "phone-number--" + str(uuid.uuid4())}], "stix.reference"),
    (4, "hash", None, "stix.required"),
    (5, "status", "maybe", "stix.vocab"),
    (5, "end_time", "2026-11-01T00:00:00.000Z", "stix.timestamp_order"),
    (5, "extensions", {EVENT_EXTENSION: {"extension_type": "new-sco"}}, "stix.extension"),
]


@pytest.mark.parametrize(("i", "key", "value", "code"), BAD)
def test_faults_are_refused(i: int, key: str, value: Any, code: str) -> None:
    obj = copy.deepcopy(GOOD[i])
    if value is None:
        obj.pop(key)
    else:
        obj[key] = value
    with pytest.raises(StixError) as e:
        validate_bundle(bundle(obj))
    assert e.value.code == code, e.value


def test_the_published_definitions_match_the_validator() -> None:
    defs = json.loads((DATA / "extension-definitions.json").read_text())
    validate_bundle(defs)
    by_name = {o["name"]: o for o in defs["objects"] if o["type"] == "extension-definition"}
    for kind, ext in NEW_SCO_EXTENSIONS.items():
        assert by_name[kind]["id"] == ext and by_name[kind]["extension_types"] == ["new-sco"]
        schema = json.loads((DATA / "schemas" / f"{kind}.json").read_text())
        assert schema["title"] == kind and {"type", "id"} <= set(schema["required"])
    assert by_name["x-vigil-person"]["id"] == PERSON_EXTENSION
