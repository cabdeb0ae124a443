"""The legal basis and purposes of an exchange: checked on input, carried in the signed
header, and read back from it."""

from __future__ import annotations

from typing import Any, cast

import pytest

from vigil.errors import InputError
from vigil.intel.legal import (
    MAX_BASIS,
    from_header,
    legal_basis,
    personal_data,
    to_header,
    well_formed,
)
from vigil.model import LegalBasis, ShareHeader


def test_a_basis_is_checked_and_its_purposes_normalised() -> None:
    lb = legal_basis("  eu-2016/794 ", ["Investigation", "prevention", "investigation"])
    assert lb == LegalBasis("eu-2016/794", ("investigation", "prevention"))
    head = to_header(lb, True)
    assert head == {"basis": "eu-2016/794", "purposes": ["investigation", "prevention"],
                    "personal_data": True}
    assert well_formed(head) is None
    h = cast(ShareHeader, {"legal": head})
    assert from_header(h) == lb and personal_data(h)
    assert from_header(cast(ShareHeader, {})) is None


@pytest.mark.parametrize(("basis", "purposes", "pointer"), [
    ("", [], "/legal/basis"),
    ("x" * (MAX_BASIS + 1), [], "/legal/basis"),
    ("eu\x07", [], "/legal/basis"),
    ("bilateral", ["prevention", "gossip"], "/legal/purposes/1"),
])
def test_bad_input_names_its_place(basis: str, purposes: list[str], pointer: str) -> None:
    with pytest.raises(InputError) as info:
        legal_basis(basis, purposes)
    assert (info.value.code, info.value.pointer) == ("input.legal_basis", pointer)


@pytest.mark.parametrize("obj", [
    None,
    {"basis": "b", "purposes": []},
    {"basis": "", "purposes": [], "personal_data": False},
    {"basis": "b", "purposes": ["prevention", "investigation"], "personal_data": False},
    {"basis": "b", "purposes": ["prevention", "prevention"], "personal_data": False},
    {"basis": "b", "purposes": ["gossip"], "personal_data": False},
    {"basis": "b", "purposes": [], "personal_data": 1},
])
def test_a_header_object_must_be_exactly_well_formed(obj: Any) -> None:
    assert well_formed(obj) is not None
