"""Answers through a relay matched to their waiting requests by nonce."""

from __future__ import annotations

from vigil.relay.replies import Replies


def test_an_answer_reaches_its_request_once() -> None:
    r = Replies()
    a, b = r.expect("n-a"), r.expect("n-b")
    assert r.waiting() == 2
    assert r.deliver("n-b", (200, "application/json", b"{}"))
    assert b.result(0) == (200, "application/json", b"{}") and not a.done()
    assert not r.deliver("n-b", (200, "application/json", b"{}"))  # a replay
    assert r.waiting() == 1


def test_a_request_that_gave_up_takes_no_answer() -> None:
    r = Replies()
    got = r.expect("n")
    r.forget("n")
    assert not r.deliver("n", (200, "text/plain", b"late"))
    assert not got.done() and r.waiting() == 0
    assert not r.deliver("unknown", (200, "text/plain", b""))


def test_a_cancelled_request_takes_no_answer() -> None:
    r = Replies()
    got = r.expect("n")
    assert got.cancel()
    assert not r.deliver("n", (200, "text/plain", b"late"))
    assert got.cancelled() and r.waiting() == 0
