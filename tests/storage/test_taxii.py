"""The TAXII index tables and collection reads (``vigil.storage.taxii``), on SQLite and
PostgreSQL: status bodies stored compressed and read only by their member, and a share's
objects read by exactly the members that may read it (its recipients in their inbox
order, its originator at the position its own share took), by page, by id, by version,
until its objects are dropped."""

from __future__ import annotations

import zlib

from tests.taxii.conftest import indicator, publish

from vigil.model import Tlp
from vigil.node.exchange import Exchange
from vigil.storage import taxii as stored
from vigil.testing import TestNode

ID1 = "indicator--00000000-0000-4000-8000-000000000001"
ID2 = "indicator--00000000-0000-4000-8000-000000000002"


def test_status_bodies_are_compressed_and_the_member_s_own(
    four_members: tuple[TestNode, Exchange],
) -> None:
    n, ex = four_members
    a, b = n.members["alpha"].id, n.members["bravo"].id
    body = b'{"id": "status-1", "successes": [' + b'"indicator--x", ' * 200 + b'"y"]}'
    ex.store.write(lambda sql: stored.insert_status(sql, ("st-1", a, body, "t")))
    raw = ex.store.read(
        lambda sql: bytes(
            sql.execute("SELECT body FROM taxii_status WHERE id='st-1'").fetchone()[0]
        )
    )
    assert len(raw) < len(body) // 4 and zlib.decompress(raw) == body
    assert ex.store.read(lambda sql: stored.status(sql, "st-1", a)) == body
    assert ex.store.read(lambda sql: stored.status(sql, "st-1", b)) is None
    ex.store.write(
        lambda sql: sql.execute(  # a row stored before compression
            "INSERT INTO taxii_status(id, member_id, body, created) VALUES(?,?,?,?)",
            ("st-0", a, b'{"id": "status-0"}', "t"),
        )
    )
    assert ex.store.read(lambda sql: stored.status(sql, "st-0", a)) == b'{"id": "status-0"}'


def test_a_share_s_objects_are_read_by_its_readers_only(
    four_members: tuple[TestNode, Exchange],
) -> None:
    n, ex = four_members
    a, b, c = (n.members[x].id for x in ("alpha", "bravo", "charlie"))
    first = publish(
        ex,
        a,
        [indicator(ID1, "2026-01-02T00:00:00.000Z"), indicator(ID2, "2026-01-02T00:00:00.000Z")],
    )
    second = publish(ex, a, [indicator(ID1, "2026-01-03T00:00:00.000Z")])
    sealed = publish(ex, a, [indicator(ID2, "2026-01-04T00:00:00.000Z")], Tlp.AMBER, to=[b])
    seqs = ex.store.read(lambda sql: stored.share_seqs(sql, [first, second, "share--none"]))
    assert set(seqs) == {first, second}
    seqs[sealed] = ex.store.read(lambda sql: stored.share_seq(sql, sealed))
    assert ex.store.read(lambda sql: stored.share_seq(sql, first)) == seqs[first]
    assert ex.store.read(lambda sql: stored.unindexed(sql, 10)) == []
    assert ex.store.read(lambda sql: stored.added_for(sql, b, first)) is not None
    assert ex.store.read(lambda sql: stored.added_for(sql, c, sealed)) is None
    assert set(ex.store.read(lambda sql: stored.added_many(sql, [(b, first), (c, sealed)]))) == {
        first
    }

    def page(who: str) -> list[tuple[str, str]]:
        rows = ex.store.read(lambda sql: stored.page_rows(sql, who, None, (0, None), None, [], 100))
        return [(str(r[3]), str(r[5])) for r in rows]

    # a sealed share is one row without an object, for its recipients and originator
    assert [oid for oid, _ in page(b)] == [ID1, ID2, ID1, ""]
    assert page(a) == page(b)  # its own shares, in the order it shared them
    assert [oid for oid, _ in page(c)] == [ID1, ID2, ID1]
    assert [int(r[1]) for r in ex.store.read(lambda sql: stored.sealed_after(sql, b, 0))] == [
        seqs[sealed]
    ]
    assert ex.store.read(lambda sql: stored.sealed_after(sql, c, 0)) == []
    by_id = ex.store.read(
        lambda sql: stored.page_rows(sql, b, None, (0, None), None, [("id", [ID2])], 100)
    )
    assert [str(r[3]) for r in by_id] == [ID2, ""]  # the sealed share kept
    versions = ex.store.read(lambda sql: stored.version_rows(sql, b, None, [ID1]))
    assert sorted(str(r[1]) for r in versions) == sorted(v for o, v in page(b) if o == ID1)
    assert len(ex.store.read(lambda sql: stored.object_rows(sql, b, None, ID1))) == 2
    assert ex.store.read(lambda sql: stored.object_rows(sql, "identity--none", None, ID1)) == []
    assert {str(r[0]) for r in ex.store.read(lambda sql: stored.body_rows(sql, b, [ID1, ID2]))} == {
        ID1,
        ID2,
    }
    assert ex.store.read(lambda sql: stored.body_rows(sql, "identity--none", [ID1])) == []
    assert ex.store.read(lambda sql: stored.envelope_at(sql, seqs[first])).id == first
    heads = ex.store.read(lambda sql: stored.share_heads(sql, [seqs[first]]))
    assert [str(h[1]) for h in heads] == [first]
    assert set(ex.store.read(lambda sql: stored.payloads(sql, list(seqs.values())))) == set(
        seqs.values()
    )
    assert ex.store.read(lambda sql: stored.first_after(sql, c, "2000-01-01T00:00:00Z")) == 1

    ex.store.write(lambda sql: stored.drop_objects(sql, first))
    assert [o for o, _ in page(c)] == [ID1]
    assert ex.store.read(lambda sql: stored.body_rows(sql, c, [ID2])) == []
