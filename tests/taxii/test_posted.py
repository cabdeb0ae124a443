"""A POSTed TAXII envelope: its objects parsed strictly, and an envelope of nothing but
objects kept as the bytes of a STIX bundle."""

from __future__ import annotations

import orjson
import pytest

from vigil.errors import InputError
from vigil.taxii.posted import posted_objects

OBJ = {"type": "malware", "id": "malware--6f3c9e0a-6c5b-4b1e-9d1b-0c2a4b6d8e10"}


def test_an_envelope_of_only_objects_becomes_the_same_bytes_as_a_bundle() -> None:
    raw = b'{"objects": [' + orjson.dumps(OBJ) + b']}'
    got = posted_objects(raw, 10_000)
    assert list(got) == [OBJ]
    assert got.bundle is not None and got.bundle_id.startswith("bundle--")
    bundle = orjson.loads(got.bundle)
    assert bundle == {"type": "bundle", "id": got.bundle_id, "objects": [OBJ]}
    assert got.bundle.endswith(raw[1:])  # the objects exactly as sent


def test_an_envelope_with_more_keys_is_not_kept_as_a_bundle() -> None:
    raw = orjson.dumps({"objects": [OBJ], "more": False})
    got = posted_objects(raw, 10_000)
    assert list(got) == [OBJ] and got.bundle is None


@pytest.mark.parametrize(("raw", "pointer"), [
    (b"[]", ""),
    (b'{"objects": []}', "/objects"),
    (b'{"objects": {}}', "/objects"),
    (b'{"more": true}', "/objects"),
])
def test_what_is_not_an_envelope_of_objects_is_refused(raw: bytes, pointer: str) -> None:
    with pytest.raises(InputError) as info:
        posted_objects(raw, 10_000)
    assert (info.value.code, info.value.pointer) == ("taxii.bad_envelope", pointer)


def test_parsing_is_strict() -> None:
    with pytest.raises(InputError):
        posted_objects(b'{"objects": [1], "objects": [2]}', 10_000)  # a duplicate key
    with pytest.raises(InputError):
        posted_objects(b'{"objects": [' + orjson.dumps(OBJ) + b"]}", 10)  # over the limit
