"""The probe schedule of a link that is not up: short after the fall, growing to the
heartbeat interval."""

from __future__ import annotations

from vigil.federation import probing
from vigil.federation.probing import Probes


def test_probes_grow_from_a_quarter_second_to_the_heartbeat_interval() -> None:
    p = Probes(1.0)
    waits = [p.failed() for _ in range(6)]
    assert waits == [0.25, 0.5, 1.0, 1.0, 1.0, 1.0]  # never more often than a heartbeat


def test_a_link_that_came_up_starts_the_schedule_again() -> None:
    p = Probes(1.0)
    for _ in range(4):
        p.failed()
    p.reset()
    assert p.failed() == probing.FIRST


def test_a_heartbeat_faster_than_the_first_probe_bounds_it() -> None:
    p = Probes(0.1)
    assert [p.failed() for _ in range(3)] == [0.1, 0.1, 0.1]
