"""The in-process observable index against a brute-force reference."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.analysis.helpers import any_observable

from vigil.analysis.index import ObservableIndex, overlap
from vigil.analysis.observables import Observable


def _brute(held: list[tuple[Observable, int]], q: Observable) -> set[tuple[Observable, int]]:
    out = set()
    for o, r in held:
        if o.kind == "ip" and q.kind == "ip":
            a, b = ipaddress.ip_network(o.value), ipaddress.ip_network(q.value)
            if a.version == b.version and a.overlaps(b):
                out.add((o, r))
        elif o == q:
            out.add((o, r))
    return out


# a small address space so that containment happens often
@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(any_observable, st.integers(0, 5)), max_size=30),
       st.lists(st.tuples(any_observable, st.integers(0, 5)), max_size=10), any_observable)
def test_match_equals_brute_force(held: list[tuple[Observable, int]],
                                  dropped: list[tuple[Observable, int]], q: Observable) -> None:
    ix: ObservableIndex[int] = ObservableIndex()
    for o, r in held + dropped:
        ix.add(o, r)
    for o, r in dropped:
        if (o, r) not in held:
            ix.discard(o, r)
    assert ix.holds(q) == any(o == q for o, _ in held)
    want = _brute(held, q)
    got = ix.match(q)
    assert len(got) == len(set(got))
    assert set(got) == want
    assert len(ix) == len(set(held))


def test_add_is_idempotent() -> None:
    ix: ObservableIndex[str] = ObservableIndex()
    o = Observable("ip", "192.0.2.0/24")
    assert ix.add(o, "s1") is True
    assert ix.add(o, "s1") is False
    assert ix.refs(Observable("ip", "192.0.2.200")) == {"s1"}
    assert ix.refs(Observable("ip", "192.0.3.1")) == set()
    assert ix.discard(o, "s1") is True
    assert ix.refs(Observable("ip", "192.0.2.200")) == set()
    assert len(ix) == 0


def test_overlap() -> None:
    assert overlap("10.0.0.0/8", "10.2.3.4")
    assert overlap("10.2.3.4", "10.0.0.0/8")
    assert not overlap("10.0.0.0/8", "11.0.0.1")
    assert not overlap("::/0", "10.0.0.1")
