"""Who a MISP event may go to: its distribution (and sharing group) proposed as vigil's
audience, a wider audience refused, and the share's TLP never wider than the event's tag."""

from __future__ import annotations

from typing import Any

import pytest

from vigil.errors import InputError
from vigil.interop.misp_audience import check_audience, check_tlp, propose
from vigil.interop.misp_tags import Marking
from vigil.model import Tlp


def event(distribution: Any = None, group: str | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {"info": "x"}
    if distribution is not None:
        ev["distribution"] = distribution
    if group is not None:
        ev["SharingGroup"] = {"name": group}
    return {"Event": ev}


def test_distribution_proposes_an_audience() -> None:
    for dist in (1, "2", "3"):
        p = propose(event(dist))
        assert p.to == () and p.to_dict()["to"] == ["community"]
        assert p.describe() == "every member (--to community)"
    p = propose(event(4, "Group 1"), channels=["a-b", "group-1"])
    assert p.to == ("group-1",) and p.describe() == "--to group-1"
    p = propose(event(4, "Other Group"), channels=["group-1"])
    assert p.to is None and p.sharing_group == "Other Group"
    assert p.describe() == "no audience proposed (sharing group 'Other Group'): name one with --to"
    assert propose(event()).to is None and propose(event()).widest is None
    assert "organisation only" in propose(event(0)).describe()


def test_an_audience_wider_than_the_event_is_refused() -> None:
    group = propose(event(4, "g"), channels=["g"])
    check_audience(group, ["g"])
    check_audience(group, ["alpha", "bravo"])  # members named one by one
    with pytest.raises(InputError) as caught:
        check_audience(group, [])
    assert caught.value.code == "misp.audience_wider"
    check_audience(propose(event(3)), [])
    check_audience(propose(event()), [])  # the event does not say: not refused
    with pytest.raises(InputError) as caught:
        check_audience(propose(event(0)), ["g"])
    assert caught.value.code == "misp.org_only"


def test_the_tlp_is_never_wider_than_the_tag() -> None:
    amber = Marking(Tlp.AMBER, (), ())
    assert check_tlp(amber, None) is Tlp.AMBER
    assert check_tlp(amber, Tlp.RED) is Tlp.RED
    assert check_tlp(amber, Tlp.AMBER_STRICT) is Tlp.AMBER_STRICT
    with pytest.raises(InputError) as caught:
        check_tlp(amber, Tlp.GREEN)
    assert caught.value.code == "misp.tlp_wider"
    untagged = Marking(None, (), ())
    assert check_tlp(untagged, Tlp.CLEAR) is Tlp.CLEAR
    with pytest.raises(InputError) as caught:
        check_tlp(untagged, None)
    assert caught.value.code == "misp.tlp_required"
