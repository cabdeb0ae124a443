"""The rules a member's own software applies without a node."""

from __future__ import annotations

import itertools

import pytest

from vigil.model import ChannelKind, Form, Tlp
from vigil.policy.access import onward
from vigil.policy.decide import share_form
from vigil.policy.member_side import local_serve


def header(tlp: Tlp, no_onward: bool) -> dict[str, object]:
    return {"audience": {"tlp": tlp.value}, "handling": {"no_onward": no_onward}}


@pytest.mark.parametrize(("tlp", "no_onward"), list(itertools.product(Tlp, [False, True])))
def test_a_gateway_serves_its_local_tools_only_what_may_leave_the_analysts(
        tlp: Tlp, no_onward: bool) -> None:
    got = local_serve(header(tlp, no_onward))
    assert onward(header(tlp, no_onward)) == got  # the gate answers the gateway with it
    served = not no_onward and tlp in (Tlp.CLEAR, Tlp.GREEN, Tlp.AMBER)
    assert bool(got) is served
    if no_onward:
        assert got.reason == "policy.no_onward"
    elif not served:
        assert got.reason == "policy.tlp_forbids_onward"


@pytest.mark.parametrize(("tlp", "explicit", "kind"), list(itertools.product(
    Tlp, [False, True], [None, *ChannelKind])))
def test_the_form_is_plain_only_for_community_wide_clear_and_green(
        tlp: Tlp, explicit: bool, kind: ChannelKind | None) -> None:
    wide = not explicit and kind in (None, ChannelKind.COMMUNITY)
    want = Form.PLAIN if wide and tlp in (Tlp.CLEAR, Tlp.GREEN) else Form.SEALED
    assert share_form(tlp, explicit=explicit, channel_kind=kind) is want
