"""What a signed share header says beyond cyber, as the policy and every view read it."""

from __future__ import annotations

from typing import cast

from vigil.intel.header import intel_of, summary
from vigil.model import Evaluation, LegalBasis, ShareHeader

HEADER = cast(ShareHeader, {
    "evaluation": {"scheme": "admiralty", "source": "B", "information": "2"},
    "legal": {"basis": "eu-2016/794", "purposes": ["investigation"], "personal_data": True},
})


def test_intel_of_a_header() -> None:
    assert intel_of(HEADER) == (Evaluation("admiralty", "B", "2"),
                                LegalBasis("eu-2016/794", ("investigation",)), True)
    assert intel_of(cast(ShareHeader, {})) == (None, None, False)


def test_the_summary_every_view_shows() -> None:
    got = summary(HEADER)
    ev = got["evaluation"]
    assert ev["code"] == ev["admiralty"] == "B2" and ev["4x4"].startswith("4x4:")
    assert ev["text"].startswith("B2 (usually reliable;")
    assert got["legal"] == {"basis": "eu-2016/794",
                            "instrument": "Regulation (EU) 2016/794 (Europol Regulation)",
                            "purposes": ["investigation"]}
    assert got["personal_data"] is True
    own = summary(cast(ShareHeader, {"legal": {"basis": "our treaty", "purposes": [],
                                               "personal_data": False}}))
    assert own["evaluation"] is None and own["legal"]["instrument"] == "our treaty"
    assert own["personal_data"] is False
