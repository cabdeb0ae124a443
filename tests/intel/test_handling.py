"""Uses a share's header forbids without consent, and the purpose personal data needs."""

from __future__ import annotations

from typing import Any, cast

import pytest

from vigil.errors import InputError
from vigil.intel.handling import forbids, personal_data, require_purpose
from vigil.model import ShareHeader


def header(**over: Any) -> ShareHeader:
    h: dict[str, Any] = {"originator": "alpha", "handling": {"no_onward": False, "codes": []},
                         "expires": None}
    h.update(over)
    return cast(ShareHeader, h)


def test_each_use_is_forbidden_by_its_own_mark() -> None:
    free = header()
    assert not any(forbids(free, use) for use in ("forward", "court", "retain"))
    assert forbids(header(handling={"no_onward": True, "codes": []}), "forward")
    assert not forbids(header(handling={"no_onward": True, "codes": []}), "court")
    assert forbids(header(handling={"no_onward": False, "codes": ["no-court"]}), "court")
    assert forbids(header(expires="2027-01-01T00:00:00.000Z"), "retain")
    assert forbids(free, "sell")  # a use nobody named is never free


def test_personal_data_needs_a_purpose_from_anyone_but_its_originator() -> None:
    pd = header(legal={"personal_data": True})
    assert personal_data(pd) and not personal_data(header(legal={"personal_data": "yes"}))
    assert not personal_data(header())
    assert require_purpose(pd, "bravo", "investigation 42") is True
    assert require_purpose(pd, "alpha", None) is False
    assert require_purpose(header(), "bravo", None) is False
    for purpose in (None, "", "   "):
        with pytest.raises(InputError) as info:
            require_purpose(pd, "bravo", purpose)
        assert info.value.code == "share.purpose_required"
