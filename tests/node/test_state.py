"""What an exchange holds: one running part per kind, the share hooks run in order (the
batch form where a hook has one), and a cache weighed by what envelopes hold."""

from __future__ import annotations

from typing import Any

from vigil.model import Envelope
from vigil.node.exchange import Exchange
from vigil.node.state import envelope_weight
from vigil.testing import TestNode


class Part:
    def __init__(self) -> None:
        self.made = True


def test_a_part_is_made_once_per_kind(four: tuple[TestNode, Exchange]) -> None:
    _, ex = four
    assert ex.part(Part) is None
    made: list[Part] = []

    def make() -> Part:
        made.append(Part())
        return made[-1]

    first, new = ex.attach(Part, make)
    again, new_again = ex.attach(Part, make)
    assert new and not new_again and first is again and made == [first]
    assert ex.part(Part) is first


def test_share_hooks_run_in_order_in_their_batch_form_where_they_have_one(
        four: tuple[TestNode, Exchange]) -> None:
    _, ex = four
    calls: list[tuple[str, Any]] = []
    one = lambda sql, env, rcpt: calls.append(("one", env))  # noqa: E731
    many = lambda sql, env, rcpt: calls.append(("many-single", env))  # noqa: E731
    ex.share_tx_hooks[:] = [one, many]
    ex.share_tx_many[many] = lambda sql, shares: calls.append(("many", len(shares)))
    shares: list[tuple[Any, tuple[str, ...]]] = [("e1", ("m",)), ("e2", ("m",))]
    ex.run_share_hooks(object(), shares)  # type: ignore[arg-type]
    assert calls == [("one", "e1"), ("one", "e2"), ("many", 2)]
    calls.clear()
    ex.run_share_hooks(object(), [])  # type: ignore[arg-type]
    assert calls == []


def test_an_envelope_weighs_what_it_holds(four: tuple[TestNode, Exchange]) -> None:
    node, ex = four
    from vigil.model import Actor, Tlp
    from vigil.testing.stix import canary_bundle

    alpha = node.members["alpha"].id
    small = ex.publish_bundle(Actor(alpha, None), canary_bundle("S", 1),
                              ex.make_request(alpha, tlp=Tlp.AMBER, to=["a-b"])).envelope
    big = ex.publish_bundle(Actor(alpha, None), canary_bundle("B", 200),
                            ex.make_request(alpha, tlp=Tlp.AMBER, to=["a-b"])).envelope
    assert isinstance(small, Envelope)
    assert envelope_weight(small) > len(small.payload) + len(small.signature)
    assert envelope_weight(big) - envelope_weight(small) >= len(big.payload) - len(small.payload)
    assert ex.envelopes.get(big.id) is big  # the push path reads it from the cache
