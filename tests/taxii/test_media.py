"""TAXII 2.1 media types: Accept and Content-Type headers."""

from __future__ import annotations

import pytest

from vigil.errors import VigilError
from vigil.taxii.media import STIX, TAXII, check_accept, check_content_type


@pytest.mark.parametrize(("accept", "objects", "answer"), [
    (None, False, TAXII),
    ("", True, TAXII),
    ("application/taxii+json;version=2.1", False, TAXII),
    ("application/taxii+json", False, TAXII),            # no version: 2.1
    ("*/*", False, TAXII),
    ("text/html, application/*;q=0.5", False, TAXII),
    ('application/stix+json; version="2.1"', True, STIX),  # asked for STIX only: STIX
    ("application/stix+json;version=2.1, application/taxii+json", True, TAXII),
])
def test_accepted(accept: str | None, objects: bool, answer: str) -> None:
    assert check_accept(accept, objects=objects) == answer


@pytest.mark.parametrize(("accept", "objects"), [
    ("application/json", False),
    ("application/taxii+json;version=2.0", False),
    ("application/stix+json;version=2.1", False),         # STIX only on object endpoints
    ("application/taxii+json;q=0", True),
    ("*/*;q=0.0", False),
])
def test_refused_with_406(accept: str, objects: bool) -> None:
    with pytest.raises(VigilError) as info:
        check_accept(accept, objects=objects)
    assert (info.value.code, info.value.status) == ("taxii.not_acceptable", 406)


def test_content_type() -> None:
    check_content_type(TAXII)
    check_content_type("application/stix+json")
    check_content_type("Application/TAXII+json; Version=2.1")
    for bad in (None, "application/json", "application/taxii+json;version=2.0"):
        with pytest.raises(VigilError) as info:
            check_content_type(bad)
        assert (info.value.code, info.value.status) == ("taxii.unsupported_media_type", 415)
