"""What ``storage/received.py`` holds, on SQLite and PostgreSQL: members and channels
homed at another node, and shares as they came."""

from __future__ import annotations

from dataclasses import replace

from tests.storage.conftest import envelope, member

from vigil.storage import Store, received
from vigil.storage import federation as q
from vigil.storage.base import header_bytes, wraps_to_bytes

AT = "2026-11-29T08:00:00.000Z"


def test_a_member_homed_elsewhere_and_its_new_keys(store: Store) -> None:
    m = member("alpha@athens")
    store.write(lambda sql: received.add_remote_member(sql, m, "node-1", 4, None))
    assert store.read(lambda sql: received.member_of(sql, m.id)) == m
    assert store.read(lambda sql: q.remote_member(sql, m.id)) == ("node-1", 4, None)
    moved = replace(m, sign_key=b"t" * 32, sign_key_id="ed25519:" + "2" * 32, active=False)
    store.write(lambda sql: received.update_remote_member(sql, moved, "node-2", 9, 9))
    assert store.read(lambda sql: received.member_of(sql, m.id)) == moved
    assert store.read(lambda sql: q.remote_member(sql, m.id)) == ("node-2", 9, 9)
    assert store.read(lambda sql: received.member_of(sql, "identity--none")) is None


def test_a_channel_homed_elsewhere(store: Store) -> None:
    owner = member("alpha@athens")
    store.add_member(owner)
    cid = "channel--3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"
    assert store.read(lambda sql: received.channel_epoch(sql, cid)) is None
    store.write(lambda sql: received.add_remote_channel(sql, cid, "ops", "group", owner.id,
                                                        AT, "node-1", 1))
    assert store.read(lambda sql: (received.has_channel(sql, cid),
                                   received.channel_epoch(sql, cid),
                                   received.channel_members(sql, cid))) == (True, 1, set())
    store.write(lambda sql: received.set_channel_epoch(sql, cid, 3))
    assert store.read(lambda sql: received.channel_epoch(sql, cid)) == 3
    assert cid in store.directory().channels


def test_a_share_as_it_came(store: Store) -> None:
    env = envelope("identity--x", ["identity--y"], b"sealed bytes")
    assert store.read(lambda sql: received.share_head(sql, env.id)) is None
    store.write(lambda sql: received.insert_shares(sql, [(
        env.id, env.originator, header_bytes(env.header), env.signature, env.payload,
        wraps_to_bytes(env.wraps), env.created, env.expires)]))
    assert store.read(lambda sql: received.share_head(sql, env.id)) == (
        header_bytes(env.header), b"sig")
    assert store.read(lambda sql: received.share_origin(sql, env.id))[::2] == (
        "identity--x", False)
    got = store.get_share(env.id)
    assert got is not None and got[0].payload == b"sealed bytes"
