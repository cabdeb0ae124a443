"""The origin proofs ``storage/trust.py`` keeps for received shares, on SQLite and
PostgreSQL: kept, replaced, and the shares of a since-revoked key still to prove."""

from __future__ import annotations

from vigil.storage import Store
from vigil.storage import trust as q
from vigil.storage.base import Sql

AT = "2026-12-07T08:00:00.000Z"


def test_origin_proofs_kept_and_the_ones_a_revocation_needs(store: Store) -> None:
    def uses(sql: Sql) -> None:
        for share, key, index in (("s1", "k1", 3), ("s2", "k1", 7), ("s3", "k1", 12),
                                  ("s4", "k2", 1)):
            q.add_key_use(sql, share, "node--b", key, index)
    store.write(uses)
    assert store.read(lambda sql: q.unproven_before_revocation(sql, 10)) == []
    store.write(lambda sql: q.add_revocation(sql, "k1", "m", "node--b", 10, "{}", AT))
    # below the point and not proven yet: s1 and s2 (s3 is past it, k2 not revoked)
    assert store.read(lambda sql: q.unproven_before_revocation(sql, 10)) == [
        ("s1", "node--b", 3), ("s2", "node--b", 7)]
    assert store.read(lambda sql: q.unproven_before_revocation(sql, 1)) == [
        ("s1", "node--b", 3)]
    store.write(lambda sql: q.put_origin_proof(sql, "s1", "o/node--b", 3, 5, "cp", '["h"]'))
    store.write(lambda sql: q.put_origin_proof(sql, "s1", "o/node--b", 3, 9, "cp2", "[]"))
    assert store.read(lambda sql: q.origin_proof(sql, "s1")) == ("o/node--b", 3, 9, "cp2",
                                                                 "[]")
    assert store.read(lambda sql: q.origin_proof(sql, "s2")) is None
    assert store.read(lambda sql: q.unproven_before_revocation(sql, 10)) == [
        ("s2", "node--b", 7)]
