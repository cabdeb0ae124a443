"""Receipts through a relay leave only at fixed ticks, all together."""

from __future__ import annotations

import pytest

from vigil.relay.receipts import ReceiptBatcher


def test_receipts_wait_for_the_next_tick_and_leave_together() -> None:
    t = [100.0]
    b = ReceiptBatcher(period=5.0, now=lambda: t[0])
    b.add("node-a", {"n": 1})
    b.add("node-b", {"n": 2})
    b.add("node-a", {"n": 3})
    t[0] = 104.9
    assert b.due() == {}  # the same tick: nothing leaves on arrival
    t[0] = 105.0
    assert b.due() == {"node-a": [{"n": 1}, {"n": 3}], "node-b": [{"n": 2}]}
    assert b.due() == {}  # released once
    b.add("node-a", {"n": 4})
    t[0] = 109.0
    assert b.due() == {}
    t[0] = 121.0  # several ticks later: one release of what waits
    assert b.due() == {"node-a": [{"n": 4}]}


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ReceiptBatcher(period=0)
