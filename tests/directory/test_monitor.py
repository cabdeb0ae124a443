"""The owner's monitor of its directory entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.directory.homes import MEMBER, Home, register
from tests.federation.trust.conftest import Node

from vigil.crypto.keys import generate_sign_key
from vigil.directory.answers import answer_lookup, answer_range
from vigil.directory.entries import next_entry, sign_entry
from vigil.directory.lookup import verify_lookup
from vigil.directory.monitor import OwnerMonitor
from vigil.errors import CryptoError


def test_owner_monitor_alarms_on_an_entry_it_did_not_make(
        trio: Callable[..., list[Node]]) -> None:
    nodes = trio(5)
    home = Home(nodes[0], nodes[1:])
    monitor = OwnerMonitor(MEMBER, home.node.id, home.dir.public_raw, home.witnesses, home.k)

    def fetch(start: int) -> dict[str, Any]:
        return answer_range(home.dir, home.collector, start, home.k)

    sk, _, _ = register(home, monitor)
    home.witness()
    assert monitor.poll(fetch) == []
    # the member rotates itself: no alarm
    mine = next_entry(home.dir.keys(MEMBER), "rotate", MEMBER, home.node.id,
                      sign_key=generate_sign_key(False))
    monitor.signed(mine)
    home.dir.append(sign_entry(mine, sk, home.node.key))
    home.witness()
    assert monitor.poll(fetch) == []
    # the home node slips in a key of its own for the member
    rogue_key = generate_sign_key(False)
    rogue = next_entry(home.dir.keys(MEMBER), "rotate", MEMBER, home.node.id,
                       sign_key=rogue_key)
    home.dir.append_unchecked(sign_entry(rogue, rogue_key, home.node.key))
    home.witness()
    [alarm] = monitor.poll(fetch)
    assert alarm.kind == "rogue_entry" and alarm.entry is not None
    assert alarm.entry["entry"]["sign_key"] == rogue["sign_key"]
    # and a lookup elsewhere does not accept the rogue key
    answer = answer_lookup(home.dir, home.collector, MEMBER, home.k)
    with pytest.raises(CryptoError):
        verify_lookup(answer, home.node.id, home.dir.public_raw, home.witnesses, home.k)


def test_monitor_sees_a_log_rewritten_under_it(trio: Callable[..., list[Node]]) -> None:
    nodes = trio(3)
    home = Home(nodes[0], nodes[1:])
    monitor = OwnerMonitor(MEMBER, home.node.id, home.dir.public_raw, home.witnesses, home.k)
    register(home, monitor)
    home.witness()
    monitor.poll(lambda s: answer_range(home.dir, home.collector, s, home.k))
    # a fetch answer whose leaves do not hash to the witnessed root
    home.dir.append(sign_entry(next_entry(home.dir.keys(MEMBER), "revoke", MEMBER,
                                          home.node.id, by="node", after=5),
                               None, home.node.key))
    home.witness()
    good = answer_range(home.dir, home.collector, 1, home.k)
    bad = dict(good, entries=[good["entries"][0][:-4] + "AAAA"])
    [alarm] = monitor.poll(lambda s: bad)
    assert alarm.kind == "fork"
