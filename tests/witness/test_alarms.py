"""Fork alarms: evidence raises one on the log's node, which then is refused until an
operator resumes it (a resumed node misbehaving raises it anew) or expels it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.errors import InputError, NotFound, PolicyDenied
from vigil.storage import open_store
from vigil.storage.base import Store
from vigil.witness.alarms import Alarm, Alarms

NODE = "node--7d9e1f0a-3b2c-4d5e-8f6a-1b2c3d4e5f60"
ORIGIN = f"vigil.example/log/{NODE}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'vigil.db'}")
    yield s
    s.close()


def record(alarms: Alarms, store: Store, kind: str = "fork") -> tuple[int, bool]:
    got = store.write(lambda sql: alarms.record(sql, ORIGIN, kind, 5, ["note a", "note b"],
                                                "two roots", "gossip"))
    alarms.announce(NODE)
    return got


def test_evidence_raises_an_alarm_that_refuses_the_node(store: Store) -> None:
    alarms = Alarms(store)
    heard: list[Alarm] = []
    alarms.listeners.append(heard.append)
    assert not alarms.refuses(NODE)
    alarms.check_intake(NODE)
    _, raised = record(alarms, store)
    assert raised and [a.node for a in heard] == [NODE]
    alarm = alarms.get(NODE)
    assert alarm is not None and (alarm.status, alarm.origin) == ("open", ORIGIN)
    assert alarm.evidence["notes"] == ["note a", "note b"] and alarm.evidence["size"] == 5
    assert alarms.refuses(NODE)
    with pytest.raises(PolicyDenied) as info:
        alarms.check_intake(NODE)
    assert info.value.code == "fed.fork_alarm"
    _, again = record(alarms, store, "inconsistent")  # more evidence, the same alarm
    assert not again and len(alarms.evidence(ORIGIN)) == 2 and len(alarms.all()) == 1


def test_resume_lets_the_node_in_until_it_misbehaves_again(store: Store) -> None:
    alarms = Alarms(store)
    record(alarms, store)
    decided = alarms.decide(NODE, "resume", "operator-1", "explained")
    assert (decided.status, decided.decided_by, decided.reason) == (
        "resume", "operator-1", "explained")
    assert not alarms.refuses(NODE)
    _, raised = record(alarms, store, "rollback")
    assert raised and alarms.refuses(NODE)


def test_expel_keeps_it_refused(store: Store) -> None:
    alarms = Alarms(store)
    record(alarms, store)
    assert alarms.decide(NODE, "expel", "operator-1", "forked").status == "expel"
    assert alarms.refuses(NODE)
    _, raised = record(alarms, store)
    assert not raised and alarms.refuses(NODE)


def test_bad_requests(store: Store) -> None:
    alarms = Alarms(store)
    with pytest.raises(InputError):
        record(alarms, store, "rumour")
    with pytest.raises(InputError):
        alarms.decide(NODE, "forgive", "op", "")
    with pytest.raises(NotFound) as info:
        alarms.decide(NODE, "resume", "op", "")
    assert info.value.code == "witness.no_alarm"
