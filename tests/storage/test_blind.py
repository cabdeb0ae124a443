"""The blind-matching tables (``vigil.storage.blind``), on SQLite and PostgreSQL: each
member's copy of a channel key epoch stored once, shares of one channel and epoch found
by the tokens they hold in common (most first), matches and their notices per member, and
everything of a share removed with it."""

from __future__ import annotations

from tests.storage.conftest import envelope, member

from vigil.storage import Store, blind
from vigil.storage.base import Sql

CH = "channel--0b5d7e36-86a4-4c4e-a7a0-000000000001"


def test_channel_key_copies_are_stored_once(store: Store) -> None:
    assert store.read(lambda sql: blind.latest_epoch(sql, CH)) == 0
    row = (CH, 1, "identity--a", "x25519:k1", b"blob-a", "identity--a", "t1")
    assert store.write(lambda sql: blind.insert_copy(sql, row)) is True
    assert (
        store.write(lambda sql: blind.insert_copy(sql, (*row[:4], b"other", *row[5:]))) is False
    )  # stored first by another: kept as it was
    store.write(
        lambda sql: blind.insert_copy(
            sql, (CH, 2, "identity--b", "x25519:k2", b"blob-b", "identity--a", "t2")
        )
    )
    assert store.read(lambda sql: blind.latest_epoch(sql, CH)) == 2
    assert [tuple(r) for r in store.read(lambda sql: blind.epoch_copies(sql, CH, 1))] == [
        ("identity--a", "x25519:k1", "t1")
    ]
    got = store.read(lambda sql: blind.member_copy(sql, CH, 1, "identity--a"))
    assert (got[0], bytes(got[1]), got[2]) == ("x25519:k1", b"blob-a", "identity--a")
    assert store.read(lambda sql: blind.member_copy(sql, CH, 1, "identity--b")) is None


def test_tokens_matches_and_notices(store: Store) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    envs = [envelope(a.id, [b.id]) for _ in range(4)]
    for env in envs:
        store.put_share(env, [b.id], "t")
    s0, s1, s2, s3 = (e.id for e in envs)

    def tokens(sql: Sql) -> None:
        blind.insert_tokens(
            sql,
            [
                (s0, CH, 1, b"t1"),
                (s0, CH, 1, b"t2"),
                (s0, CH, 1, b"t3"),
                (s1, CH, 1, b"t1"),
                (s2, CH, 1, b"t2"),
                (s2, CH, 1, b"t3"),
                (s3, CH, 2, b"t1"),
            ],
        )  # another epoch: no match

    store.write(tokens)
    hits = store.read(lambda sql: blind.token_hits(sql, s0, 10))
    assert [(str(r[0]), int(r[1])) for r in hits] == [(s2, 2), (s1, 1)]
    assert [str(r[0]) for r in store.read(lambda sql: blind.token_hits(sql, s0, 1))] == [s2]
    assert {i for i, _ in store.read(lambda sql: blind.share_headers(sql, [s0, s2, "x"]))} == {
        s0,
        s2,
    }

    def matches(sql: Sql) -> None:
        blind.insert_matches(sql, [(s0, s2, CH, 1, 2, "t5"), (s0, s1, CH, 1, 1, "t5")])
        blind.insert_notices(sql, [(a.id, s0, s2, 1), (b.id, s0, s2, 1), (b.id, s0, s1, 2)])

    store.write(matches)
    notices = store.read(lambda sql: blind.notices_after(sql, b.id, 0, 10))
    assert [(int(r[0]), str(r[1]), str(r[2]), int(r[5])) for r in notices] == [
        (1, s0, s2, 2),
        (2, s0, s1, 1),
    ]
    assert [int(r[0]) for r in store.read(lambda sql: blind.notices_after(sql, b.id, 1, 10))] == [2]
    assert sorted(store.read(lambda sql: blind.matched_with(sql, s0))) == sorted([s1, s2])
    assert store.read(lambda sql: blind.matched_with(sql, s2)) == [s0]

    store.write(lambda sql: blind.delete_of_share(sql, s2))
    assert store.read(lambda sql: blind.matched_with(sql, s0)) == [s1]
    assert store.read(lambda sql: blind.notices_after(sql, a.id, 0, 10)) == []
    assert [str(r[0]) for r in store.read(lambda sql: blind.token_hits(sql, s0, 10))] == [s1]
