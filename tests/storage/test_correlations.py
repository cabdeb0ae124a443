"""The correlation statements (``vigil.storage.correlations``), on SQLite and PostgreSQL:
the pass's mark, the shares after it with or without their payloads, and the rows of
correlation by member, by position and by the shares they name (in chunks)."""

from __future__ import annotations

import pytest
from tests.storage.conftest import envelope, member

from vigil.storage import Store, accountability
from vigil.storage import correlations as corr
from vigil.storage.base import Sql


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corr, "CHUNK", 2)  # many ids go in several statements


def test_shares_after_the_mark(store: Store) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    envs = [envelope(a.id, [b.id], f"payload {i}".encode()) for i in range(5)]
    for env in envs:
        store.put_share(env, [b.id], "t")
    ids = [e.id for e in envs]
    assert store.read(corr.correlation_mark) == 0
    assert store.read(corr.share_count) == 5
    last = store.read(corr.last_share)
    store.write(lambda sql: corr.set_mark(sql, last - 2))
    store.write(lambda sql: corr.set_mark(sql, last - 3))  # set again, not added
    assert store.read(corr.correlation_mark) == last - 3
    store.write(lambda sql: accountability.clear_payload(sql, ids[3], "recalled"))
    after = store.read(lambda sql: corr.shares_after(sql, last - 3, 10))
    assert [(r[1], r[2]) for r in after] == [(i, a.id) for i in ids[2:]]
    assert [bytes(r[4]) if r[4] is not None else None for r in after] == [
        b"payload 2",
        None,
        b"payload 4",
    ]
    nxt = store.read(lambda sql: corr.next_shares(sql, last - 3, 2))
    assert [(r[1], bool(r[3])) for r in nxt] == [(ids[2], False), (ids[3], True)]
    assert store.read(lambda sql: corr.payload_removed(sql, ids)) == {ids[3]}
    got = store.read(lambda sql: corr.payloads(sql, [*ids, "share--none"]))
    assert sorted(r[0] for r in got) == sorted(i for i in ids if i != ids[3])
    states = store.read(lambda sql: corr.share_headers_states(sql, ids))
    assert sorted((r[0], bool(r[2]), bool(r[3])) for r in states) == sorted(
        (i, i == ids[3], False) for i in ids
    )


def test_rows_by_member_position_and_share(store: Store) -> None:
    def rows(sql: Sql) -> None:
        corr.lock_passes(sql)
        corr.insert_rows(
            sql,
            [
                ("alpha", "s1", "s2", "ip", "192.0.2.1", "192.0.2.1", 1),
                ("bravo", "s2", "s1", "ip", "192.0.2.1", "192.0.2.1", 1),
                ("alpha", "s1", "s3", "ip", "192.0.2.1", "192.0.2.0/24", 2),
                ("alpha", "s4", "s5", "domain", "a.example", "a.example", 3),
            ],
        )

    assert store.read(lambda sql: corr.members_since(sql, None)) == (0, [])
    store.write(rows)
    top, _ = store.read(lambda sql: corr.members_since(sql, None))
    assert top > 0 and store.read(lambda sql: corr.members_since(sql, top)) == (top, [])
    assert sorted(store.read(lambda sql: corr.members_since(sql, 0))[1]) == ["alpha", "bravo"]
    assert [
        (int(r[0]), r[2]) for r in store.read(lambda sql: corr.member_rows(sql, "alpha", 1, 10))
    ] == [(2, "s3"), (3, "s5")]
    same = store.read(lambda sql: corr.same_value_rows(sql, "alpha", 2, ["s1", "s4", "s9"]))
    assert [(int(r[0]), r[1], r[2]) for r in same] == [(1, "s1", "s2")]
    named = store.read(lambda sql: corr.rows_naming(sql, ["s3", "s9", "s5"]))
    assert {(r[1], r[2]) for r in named} == {("s1", "s3"), ("s4", "s5")}
    store.write(lambda sql: corr.delete_of_share(sql, "s1"))
    assert [r[1] for r in store.read(lambda sql: corr.member_rows(sql, "alpha", 0, 10))] == ["s4"]
    assert store.read(lambda sql: corr.member_rows(sql, "bravo", 0, 10)) == []
