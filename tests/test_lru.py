"""The least-recently-used map: bounded by entries and by bytes."""

from __future__ import annotations

from vigil.lru import Lru


def test_entries_bound_evicts_the_least_recently_used() -> None:
    c: Lru[str, int] = Lru(2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1  # "b" is now the least recently used
    c.put("c", 3)
    assert (c.get("a"), c.get("b"), c.get("c")) == (1, None, 3)


def test_bytes_bound_evicts_until_it_fits() -> None:
    c: Lru[str, bytes] = Lru(100, max_bytes=10, weigh=len)
    c.put("a", b"1234")
    c.put("b", b"1234")
    assert c.bytes == 8
    c.put("c", b"12345")  # 13 > 10: "a" goes
    assert c.get("a") is None and c.get("b") == b"1234" and c.bytes == 9
    c.put("b", b"1")  # replaced: its old weight is given back
    assert c.bytes == 6
    c.put("big", b"x" * 11)  # heavier than the bound: not kept, nothing evicted
    assert c.get("big") is None and len(c) == 2
    c.pop("c")
    assert c.bytes == 1 and len(c) == 1
