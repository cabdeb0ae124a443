"""Admiralty and 4x4 evaluation codes, mapped both ways."""

from __future__ import annotations

import pytest

from vigil.errors import InputError
from vigil.intel import evaluation as ev
from vigil.model import Evaluation


def test_every_4x4_code_survives_the_round_trip() -> None:
    for s in ev.SOURCE[ev.FOUR_BY_FOUR]:
        for i in ev.INFORMATION[ev.FOUR_BY_FOUR]:
            e = Evaluation(ev.FOUR_BY_FOUR, s, i)
            back = ev.to_scheme(ev.to_scheme(e, ev.ADMIRALTY), ev.FOUR_BY_FOUR)
            assert back == e


def test_admiralty_maps_to_the_nearest_4x4_grade() -> None:
    assert ev.code(ev.to_scheme(ev.parse("A1"), ev.FOUR_BY_FOUR)) == "4x4:A1"
    assert ev.code(ev.to_scheme(ev.parse("C3"), ev.FOUR_BY_FOUR)) == "4x4:B3"
    assert ev.code(ev.to_scheme(ev.parse("E5"), ev.FOUR_BY_FOUR)) == "4x4:C4"
    assert ev.code(ev.to_scheme(ev.parse("F6"), ev.FOUR_BY_FOUR)) == "4x4:X4"
    assert ev.code(ev.to_scheme(ev.parse("4x4:X4"), ev.ADMIRALTY)) == "F6"
    assert ev.code(ev.to_scheme(ev.parse("4x4:C2"), ev.ADMIRALTY)) == "D2"
    # every Admiralty code maps to some 4x4 code and back to an Admiralty code
    for s in ev.SOURCE[ev.ADMIRALTY]:
        for i in ev.INFORMATION[ev.ADMIRALTY]:
            four = ev.to_scheme(Evaluation(ev.ADMIRALTY, s, i), ev.FOUR_BY_FOUR)
            assert ev.well_formed(ev.to_header(four)) is None


@pytest.mark.parametrize("bad", ["G1", "A7", "4x4:D1", "4x4:A5", "x", "nato:A1", "A"])
def test_bad_codes_are_refused(bad: str) -> None:
    with pytest.raises(InputError) as e:
        ev.parse(bad)
    assert e.value.code == "input.evaluation"


def test_header_form() -> None:
    assert ev.well_formed({"scheme": "admiralty", "source": "B", "information": "2"}) is None
    assert ev.well_formed({"scheme": "4x4", "source": "D", "information": "2"}) is not None
    assert ev.well_formed({"scheme": "admiralty", "source": ["B"], "information": "2"})
    assert ev.well_formed({"scheme": "admiralty", "source": "B"}) is not None
    assert "usually reliable" in ev.describe(ev.parse("B2"))
