"""The sign-in audit (``vigil.signin.audit``): events per member in order and paged, a
failed token noted for the member whose user its prefix names (and nothing for a
credential that is no token), and a sign-in recorded once per interval per actor and
method."""

from __future__ import annotations

import time
from pathlib import Path

from vigil.model import Actor
from vigil.signin import audit
from vigil.testing import four_member_exchange


def test_events_and_failed_tokens(tmp_path: Path, store: str | None) -> None:
    node, ex = four_member_exchange(tmp_path / "node", store=store)
    try:
        a, b = node.members["alpha"].id, node.members["bravo"].id
        for ev in ("signin", "token.created", "token.rotated"):
            audit.record(ex, a, "user--1", ev, "detail", "192.0.2.1")
        audit.record(ex, b, None, "signin")
        got = audit.events(ex, a)
        assert [e.event for e in got] == ["signin", "token.created", "token.rotated"]
        assert got[0].address == "192.0.2.1" and audit.events(ex, b)[0].address == "-"
        assert [e.event for e in audit.events(ex, a, after=got[0].seq, limit=1)] == [
            "token.created"
        ]
        assert len(audit.events(ex, a, limit=0)) == 1  # at least one a page
        assert set(got[0].to_dict()) == {"seq", "user", "event", "detail", "address", "at"}
        token = node.members["bravo"].token
        audit.failed(ex, token[:-4] + "xxxx", "auth.bad_token", "198.51.100.9")
        audit.failed(ex, "not-a-token", "auth.bad_token", "198.51.100.9")
        audit.failed(ex, "vgl_", "auth.bad_token", "198.51.100.9")
        failed = [e for e in audit.events(ex, b) if e.event == "signin.failed"]
        assert len(failed) == 1 and failed[0].address == "198.51.100.9"
        assert token[:12] in failed[0].detail and token not in failed[0].detail
        assert not [e for e in audit.events(ex, a) if e.event == "signin.failed"]
    finally:
        ex.store.close()


def test_a_sign_in_is_recorded_once_per_interval(tmp_path: Path) -> None:
    node, ex = four_member_exchange(tmp_path / "node")
    try:
        a = node.members["alpha"].id
        s = audit.Signins(every=3600)
        for _ in range(3):
            s.seen(ex, Actor(a, "user--1"), "token", "::1")
        s.seen(ex, Actor(a, "user--1"), "certificate", "::1")  # another method
        s.seen(ex, Actor(a, "user--2"), "token", "::1")  # another user
        assert [(e.user, e.detail) for e in audit.events(ex, a)] == [
            ("user--1", "token"),
            ("user--1", "certificate"),
            ("user--2", "token"),
        ]
        quick = audit.Signins(every=1.0)
        assert quick.due(Actor(a), "token") and not quick.due(Actor(a), "token")
        time.sleep(1.1)
        assert quick.due(Actor(a), "token")  # the interval passed
    finally:
        ex.store.close()
