"""Authenticating on the event loop: the sign-in (and failed sign-in) a request records
is a write to the store, and ``authenticate(..., deferred=...)`` hands it to the caller
instead of making it (``State.authenticate`` makes it in a thread, before answering)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import HTTPConnection

from vigil.errors import AuthError
from vigil.signin import audit
from vigil.testing import make_node
from vigil.web.auth import authenticate
from vigil.web.throttle import Throttle


def conn_with(token: str) -> HTTPConnection:
    return HTTPConnection({"type": "http", "method": "POST", "path": "/api/v1/shares",
                           "headers": [(b"authorization", f"Bearer {token}".encode())],
                           "client": ("192.0.2.7", 5000), "query_string": b""})


def test_deferred_records_are_not_written_until_the_caller_makes_them(tmp_path: Path) -> None:
    node = make_node(tmp_path / "node", {"alpha": True})
    ex = node.exchange()
    try:
        alpha = node.members["alpha"]
        before = len(audit.events(ex, alpha.id))
        writes: list = []
        actor = authenticate(conn_with(alpha.token), ex, Throttle(), deferred=writes)
        assert actor.member == alpha.id
        assert len(writes) == 1 and len(audit.events(ex, alpha.id)) == before  # not yet
        writes[0]()
        got = audit.events(ex, alpha.id)[before:]
        assert [(e.event, e.detail, e.address) for e in got] == [("signin", "token",
                                                                  "192.0.2.7")]
        # once recorded, the same user's next sign-in in the hour is not recorded again
        writes.clear()
        authenticate(conn_with(alpha.token), ex, Throttle(), deferred=writes)
        assert writes == []

        # a failed sign-in whose token prefix names alpha's user: deferred the same way
        wrong = alpha.token[:-4] + ("aaaa" if not alpha.token.endswith("aaaa") else "bbbb")
        try:
            authenticate(conn_with(wrong), ex, Throttle(), deferred=writes)
        except AuthError:
            pass
        else:
            raise AssertionError("a wrong token was taken")
        assert len(writes) == 1 and len(audit.events(ex, alpha.id)) == before + 1
        writes[0]()
        assert audit.events(ex, alpha.id)[-1].event == "signin.failed"
    finally:
        ex.store.close()
