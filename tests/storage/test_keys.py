"""The SQL of the key life cycle (``vigil.storage.keys``), on SQLite and PostgreSQL: one
record per key id that gathers its retirement, expiry and revocation, a member's current
keys and its one recovery key replaced, shares marked once, content keys wrapped again,
and the log entries a revocation reads."""

from __future__ import annotations

from tests.storage.conftest import envelope, member

from vigil.storage import Store, keys, logtree
from vigil.storage.base import Sql


def records(store: Store) -> dict[str, tuple[object, ...]]:
    return {str(r[0]): tuple(r[1:]) for r in store.read(keys.key_rows)}


def test_a_key_record_gathers_its_life(store: Store) -> None:
    store.write(lambda sql: keys.retire_key(sql, "m1", "ed25519:old", "sign", b"p1", "t1"))
    store.write(lambda sql: keys.retire_key(sql, "m1", "ed25519:old", "sign", b"p1", "t2"))
    store.write(lambda sql: keys.expire_key(sql, "m1", "ed25519:old", "sign", b"p1", "t9"))
    store.write(lambda sql: keys.revoke_key(sql, "m1", "ed25519:old", "sign", b"p1", "t0", "t3", 7))
    store.write(lambda sql: keys.expire_key(sql, "m1", "x25519:e", "enc", b"p2", "t8"))
    store.write(lambda sql: keys.revoke_key(sql, "m2", "ed25519:r", "sign", b"p3", "t4", "t5", 9))
    got = records(store)
    old = got["ed25519:old"]
    assert (old[0], old[1], bytes(old[2])) == ("m1", "sign", b"p1")
    assert old[3:] == ("t1", "t9", "t0", "t3", 7)  # retired once, at the first time
    assert got["x25519:e"][3:] == (None, "t8", None, None, None)
    assert got["ed25519:r"][3:] == (None, None, "t4", "t5", 9)


def test_member_keys_recovery_marks_and_rewraps(store: Store) -> None:
    a = member("a")
    store.add_member(a)
    before = store.directory()

    def rotate(sql: Sql) -> None:
        keys.set_member_keys(sql, a.id, ("ed25519:new", b"S" * 32), ("x25519:new", b"E" * 32))
        keys.bump_directory(sql)

    store.write(rotate)
    now = store.directory()
    assert now is not before
    m = now.members[a.id]
    assert (m.sign_key_id, m.sign_key, m.enc_key_id, m.enc_key) == (
        "ed25519:new",
        b"S" * 32,
        "x25519:new",
        b"E" * 32,
    )
    assert store.read(lambda sql: keys.recovery_public(sql, a.id)) is None
    store.write(lambda sql: keys.put_recovery(sql, a.id, "ed25519:r1", b"r1", "t1"))
    store.write(lambda sql: keys.put_recovery(sql, a.id, "ed25519:r2", b"r2", "t2"))
    assert store.read(lambda sql: keys.recovery_public(sql, a.id)) == b"r2"
    store.write(lambda sql: keys.mark_share(sql, "s1", "ed25519:old", "t1"))
    store.write(lambda sql: keys.mark_share(sql, "s1", "ed25519:other", "t2"))
    store.write(lambda sql: keys.mark_share(sql, "s2", "ed25519:old", "t1"))
    assert sorted(store.read(keys.marked_share_ids)) == ["s1", "s2"]
    assert store.read(lambda sql: keys.get_rewrap(sql, "s1", a.id)) is None
    store.write(lambda sql: keys.put_rewrap(sql, "s1", a.id, "x25519:k1", b"w1", "t1"))
    store.write(lambda sql: keys.put_rewrap(sql, "s1", a.id, "x25519:k2", b"w2", "t2"))
    assert store.read(lambda sql: keys.get_rewrap(sql, "s1", a.id)) == ("x25519:k2", b"w2")


def test_the_log_entries_a_revocation_reads(store: Store) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    early, late = envelope(a.id, [b.id]), envelope(a.id, [b.id])
    late = type(late)(
        header={**late.header, "created": "2026-12-01T00:00:00.000Z"},
        signature=late.signature,
        payload=late.payload,
        wraps=late.wraps,
    )
    other = envelope(b.id, [a.id])
    for env in (early, late, other):
        store.put_share(env, list(env.recipients), "t")

    def log(sql: Sql) -> None:
        leaves = [
            (0, "member", None, b"member a", b"r", b"p"),
            (1, "share", early.id, b"e", b"r", b"p"),
            (2, "share", late.id, b"l", b"r", b"p"),
            (3, "share", other.id, b"o", b"r", b"p"),
            (4, "member", None, b"member b", b"r", b"p"),
        ]
        logtree.append_many(sql, [(0, i, bytes([i])) for i in range(5)], leaves)

    store.write(log)
    assert store.read(keys.log_size) == 5
    assert store.read(keys.member_entries) == [(0, b"member a"), (4, b"member b")]
    since = store.read(lambda sql: keys.shares_since(sql, a.id, "2026-11-30T00:00:00.000Z"))
    assert [(s, i) for s, _, i in since] == [(late.id, 2)]
    assert len(store.read(lambda sql: keys.shares_since(sql, a.id, "2026-01-01"))) == 2
