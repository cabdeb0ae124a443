"""What a user or a client gives a node is checked before anything is decided: names,
themes, regions, TLP markings, a client-signed header."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vigil.errors import InputError, PolicyDenied
from vigil.model import Tlp
from vigil.node.inputs import (
    check_client_header,
    check_marking,
    check_name,
    check_regions,
    check_themes,
    region,
)
from vigil.stix.tlp import TLP2_MARKING_IDS
from vigil.testing import stix


def test_names_are_short_lowercase_words() -> None:
    assert check_name("cert-ee.2", "member") == "cert-ee.2"
    for bad in ("", "-x", "Alpha", "a" * 64, "a b", "ä"):
        with pytest.raises(InputError) as e:
            check_name(bad, "channel")
        assert e.value.code == "input.channel_name"


def test_themes_are_known_lowercase_and_sorted() -> None:
    assert check_themes([" Cyber", "critical-infrastructure/energy", "cyber"]) == (
        "critical-infrastructure/energy", "cyber")
    for i, bad in ((1, "astrology"), (1, "cyber/Bad Sub!")):
        with pytest.raises(InputError) as e:
            check_themes(["cyber", bad])
        assert (e.value.code, e.value.pointer) == ("input.theme", f"/themes/{i}")


def test_regions_are_country_codes_or_region_names() -> None:
    assert region(" ee ") == "EE" and region("eastern-europe") == "eastern-europe"
    assert region("E") is None and region("Europe!") is None
    assert check_regions(["ua", "EE", "baltics", "ee"]) == ("EE", "UA", "baltics")
    with pytest.raises(InputError) as e:
        check_regions(["EE", "not a region"])
    assert (e.value.code, e.value.pointer) == ("input.region", "/regions/1")


def test_a_share_is_never_wider_than_a_marking_on_its_objects() -> None:
    red = stix.indicator(object_marking_refs=[TLP2_MARKING_IDS[Tlp.RED]])
    bundle = stix.bundle_doc(red)
    check_marking(bundle, Tlp.RED)
    with pytest.raises(PolicyDenied) as e:
        check_marking(bundle, Tlp.AMBER)
    assert e.value.code == "policy.tlp_below_marking"
    check_marking(stix.bundle_doc(stix.indicator()), Tlp.CLEAR)  # unmarked


def _header(created: datetime, **kw: Any) -> Any:
    h = {"themes": ["cyber"], "regions": ["EE"],
         "created": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
    h.update(kw)
    return h


def test_a_client_header_is_written_as_the_node_would_and_near_its_clock() -> None:
    now = datetime.now(UTC)
    check_client_header(_header(now - timedelta(hours=23)), now)
    check_client_header(_header(now + timedelta(minutes=4)), now)
    cases = [(_header(now, themes=["cyber", "critical-infrastructure"]), "input.theme"),
             (_header(now, regions=["ee"]), "input.region"),
             (_header(now - timedelta(hours=25)), "envelope.created"),
             (_header(now + timedelta(minutes=6)), "envelope.created")]
    for h, code in cases:
        with pytest.raises(InputError) as e:
            check_client_header(h, now)
        assert e.value.code == code
