"""``vigil.taxii.view``: what the node keeps in memory of the sealed shares it opens for
a member whose keyring it holds is bounded by bytes, and pages read the same either way."""

from __future__ import annotations

from pathlib import Path

import orjson
from tests.taxii.conftest import many_objects

from vigil.model import Actor, Tlp
from vigil.taxii.query import Query
from vigil.taxii.view import ExchangeSource
from vigil.testing import four_member_exchange


def read_all(src: ExchangeSource, who: str) -> list[str]:
    coll = src.collections(Actor(who))[0]
    out: list[str] = []
    cursor = None
    while True:
        page = src.page(Actor(who), coll, Query(limit=7, cursor=cursor))
        out += [i.id for i in page.items]
        if not page.more:
            return out
        cursor = page.next


def test_opened_sealed_shares_are_kept_within_a_byte_bound(tmp_path: Path) -> None:
    n, ex = four_member_exchange(tmp_path / "node")
    try:
        a, b = n.members["alpha"].id, n.members["bravo"].id
        objects = many_objects(60)
        for part in (objects[:30], objects[30:]):  # sealed: a-b at AMBER
            raw = orjson.dumps({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-"
                                "000000000001", "objects": part})
            ex.publish_bundle(Actor(a), raw, ex.make_request(a, tlp=Tlp.AMBER, to=["a-b"]))
        unbounded = ExchangeSource(ex)
        want = read_all(unbounded, b)
        assert want == [o["id"] for o in objects]
        assert len(unbounded.opened) == 2
        held = unbounded.opened.bytes  # the objects' bytes, and then some
        assert held >= sum(len(orjson.dumps(o)) for o in objects)

        bound = held - 1  # room for one of the two opened shares, not both
        src = ExchangeSource(ex, opened_bytes=bound)
        assert read_all(src, b) == want  # an evicted share is opened again
        assert len(src.opened) == 1
        assert src.opened.bytes <= bound
    finally:
        ex.store.close()
