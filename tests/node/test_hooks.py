"""The hooks features plug into an exchange: a share hook runs in the share's
transaction (its error stores nothing), a claim runs last in it and only for a new
share, an after-publish hook runs after the commit (its error undoes nothing)."""

from __future__ import annotations

import logging

import pytest

from vigil.model import Actor, Envelope, Tlp
from vigil.node.exchange import Exchange
from vigil.node.hooks import Published
from vigil.storage.base import Sql
from vigil.testing import TestNode
from vigil.testing.stix import canary_bundle


def _publish(ex: Exchange, member: str, canary: str, **kw: object) -> Published:
    return ex.publish_bundle(Actor(member, None), canary_bundle(canary, 1),
                             ex.make_request(member, tlp=Tlp.AMBER, to=["a-b"]),
                             **kw)  # type: ignore[arg-type]


def test_a_failing_share_hook_stores_nothing(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    alpha = node.members["alpha"].id
    seen: list[tuple[str, tuple[str, ...]]] = []

    def hook(sql: Sql, env: Envelope, recipients: tuple[str, ...]) -> None:
        seen.append((env.id, recipients))
        raise RuntimeError("no")

    ex.share_tx_hooks.append(hook)
    with pytest.raises(RuntimeError):
        _publish(ex, alpha, "H1")
    assert len(seen) == 1 and node.members["bravo"].id in seen[0][1]
    assert ex.store.get_share(seen[0][0]) is None
    assert ex.sent(alpha) == []
    ex.share_tx_hooks.remove(hook)
    assert _publish(ex, alpha, "H2").new


def test_a_claim_runs_in_the_transaction_of_a_new_share_only(
        four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    alpha = node.members["alpha"].id
    claimed: list[Published] = []
    pub = _publish(ex, alpha, "C1", claim=lambda sql, p: claimed.append(p))
    assert [p.envelope.id for p in claimed] == [pub.envelope.id] and claimed[0].new

    def refuse(sql: Sql, p: Published) -> None:
        raise ValueError("the idempotency key is taken")

    with pytest.raises(ValueError):
        _publish(ex, alpha, "C2", claim=refuse)
    assert [e.id for _, e, _ in ex.sent(alpha)] == [pub.envelope.id]


def test_an_after_publish_hook_that_fails_undoes_nothing(
        four: tuple[TestNode, Exchange], caplog: pytest.LogCaptureFixture) -> None:
    node, ex = four
    alpha = node.members["alpha"].id
    after: list[str] = []

    def broken(p: Published) -> None:
        raise RuntimeError("broken feature")

    ex.published_hooks[:0] = [broken]
    ex.published_hooks.append(lambda p: after.append(p.envelope.id))
    with caplog.at_level(logging.ERROR):
        pub = _publish(ex, alpha, "A1")
    assert pub.new and after == [pub.envelope.id]
    assert ex.store.get_share(pub.envelope.id) is not None
    assert "after-publish hook" in caplog.text
