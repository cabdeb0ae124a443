"""Members' own warninglists in the ``warninglists`` table, on SQLite and PostgreSQL."""

from __future__ import annotations

from vigil.storage import Store
from vigil.storage import warninglists as q

AT = "2026-11-29T08:00:00.000Z"


def bodies(store: Store, member: str) -> list[bytes]:
    return [bytes(r[0]) for r in store.read(lambda sql: q.list_bodies(sql, member))]


def test_a_list_is_replaced_by_name_and_kept_per_member(store: Store) -> None:
    assert store.read(lambda sql: q.lists_stamp(sql, "alpha")) == (0, 0)
    store.write(lambda sql: q.replace_list(sql, "alpha", "zeta", b"z1", AT))
    store.write(lambda sql: q.replace_list(sql, "alpha", "beta", b"b1", AT))
    store.write(lambda sql: q.replace_list(sql, "bravo", "beta", b"other", AT))
    assert bodies(store, "alpha") == [b"b1", b"z1"]  # by name
    count, seq = store.read(lambda sql: q.lists_stamp(sql, "alpha"))
    store.write(lambda sql: q.replace_list(sql, "alpha", "zeta", b"z2", AT))
    assert bodies(store, "alpha") == [b"b1", b"z2"]
    count2, seq2 = store.read(lambda sql: q.lists_stamp(sql, "alpha"))
    assert count2 == count == 2 and seq2 > seq  # the stamp moves with every write
    assert bodies(store, "bravo") == [b"other"]


def test_a_list_is_deleted_once(store: Store) -> None:
    store.write(lambda sql: q.replace_list(sql, "alpha", "mine", b"x", AT))
    assert store.write(lambda sql: q.delete_list(sql, "bravo", "mine")) is False
    assert store.write(lambda sql: q.delete_list(sql, "alpha", "mine")) is True
    assert store.write(lambda sql: q.delete_list(sql, "alpha", "mine")) is False
    assert bodies(store, "alpha") == []
