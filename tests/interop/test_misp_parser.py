"""misp-stix's parser as vigil runs it: what it is given to load with PyMISP."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from tests.interop.misp_cases import DATA, _both

from vigil.interop.misp import events_of, to_stix

pytestmark = pytest.mark.usefixtures("quiet_misp")

def test_related_events_are_not_loaded_and_change_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pymisp import MISPEvent

    event = events_of(json.loads((DATA / "existing_event.json").read_text("utf-8")))[0]
    assert len(event["Event"]["RelatedEvent"]) == 20
    loaded: list[set[str]] = []
    from_dict = MISPEvent.from_dict

    def spy(self: Any, **kwargs: Any) -> Any:
        loaded.append(set(kwargs.get("Event", kwargs)))
        return from_dict(self, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(MISPEvent, "from_dict", spy)
        fast = to_stix(copy.deepcopy(event), fast=True)
    # the event once, without its related events (each would be an event loaded too)
    assert len(loaded) == 1 and "RelatedEvent" not in loaded[0]
    without = {"Event": {k: v for k, v in event["Event"].items() if k != "RelatedEvent"}}
    again = to_stix(copy.deepcopy(without), fast=True)
    assert [o["id"] for o in fast[0]] == [o["id"] for o in again[0]]
    # and what misp-stix makes of the whole event, related events and all, is the same
    slow, quick, _ = _both(event, monkeypatch)
    assert quick == slow
