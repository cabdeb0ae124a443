"""atheris harness: any JSON document is checked by the STIX validator, as an object
and as a bundle, with nothing raised but StixError (4xx, pointer set)."""

from __future__ import annotations

from typing import Any

from tests.fuzz.harness import guarded

from vigil.errors import VigilError
from vigil.stix import strictjson
from vigil.stix.validate import check_bundle, check_object, validate_bundle, validate_object


def one_input(data: bytes) -> None:
    try:
        doc: Any = strictjson.loads(data)
    except VigilError:
        return
    assert isinstance(check_object(doc), list)
    assert isinstance(check_bundle(doc), list)
    guarded(lambda: validate_object(doc))
    guarded(lambda: validate_bundle(doc))
    if isinstance(doc, dict) and doc.get("type") == "bundle" \
            and isinstance(doc.get("objects"), list) and not check_bundle(doc):
        for obj in doc["objects"]:  # a valid bundle holds only valid objects
            assert not check_object(obj), obj

