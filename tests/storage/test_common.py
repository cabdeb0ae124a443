"""The part of the store whose SQL both backends share (``vigil.storage.common``): members and
the directory cache, users, console sessions, channels and their events, inbox cursors; on
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from tests.storage.conftest import envelope, member

from vigil.errors import Conflict
from vigil.model import Channel, ChannelKind, User
from vigil.storage import Store


def test_members_and_directory_cache(store: Store) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    d1 = store.directory()
    assert set(d1.members) == {a.id}
    assert store.directory() is d1  # unchanged directory is cached
    store.add_member(b)
    d2 = store.directory()
    assert set(d2.members) == {a.id, b.id}
    assert d2.members[a.id] == a
    with pytest.raises(Conflict):
        store.add_member(member("a"))
    store.set_member_active(b.id, False)
    assert not store.directory().members[b.id].active


def test_users_by_token_hash(store: Store) -> None:
    a = member("a")
    store.add_member(a)
    u = User(id=f"user--{uuid.uuid4()}", member_id=a.id, name="ana", created="t")
    store.add_user(u, "hash1")
    assert store.user_by_token_hash("hash1") == u
    assert store.user_by_token_hash("hash2") is None
    with pytest.raises(Conflict):
        store.add_user(User(f"user--{uuid.uuid4()}", a.id, "ana", "t"), "hash3")
    assert store.list_users(a.id) == [u]


def test_channels_and_events(store: Store) -> None:
    a, b, c = member("a"), member("b"), member("c")
    for m in (a, b, c):
        store.add_member(m)
    # events of a channel a cannot see come first: they do not show in ch's numbers
    store.add_channel(
        Channel(
            f"channel--{uuid.uuid4()}", "h", ChannelKind.GROUP, c.id, frozenset({b.id, c.id}), "t"
        ),
        c.id,
        "t",
    )
    ch = Channel(
        id=f"channel--{uuid.uuid4()}",
        name="g",
        kind=ChannelKind.GROUP,
        owner=a.id,
        members=frozenset({a.id, b.id}),
        created="t0",
    )
    store.add_channel(ch, a.id, "t0")
    assert store.directory().channels[ch.id].members == {a.id, b.id}
    store.add_channel_member(ch.id, c.id, a.id, "t1")
    store.add_channel_member(ch.id, c.id, a.id, "t1")  # idempotent, no second event
    store.remove_channel_member(ch.id, b.id, a.id, "t2")
    assert store.directory().channels[ch.id].members == {a.id, c.id}
    events = [(e["event"], e["member"]) for e in store.channel_events(ch.id)]
    assert [e["seq"] for e in store.channel_events(ch.id)] == [1, 2, 3, 4, 5]
    assert events[0] == ("create", a.id)
    assert sorted(events[1:3]) == sorted([("join", a.id), ("join", b.id)])
    assert events[3:] == [("join", c.id), ("leave", b.id)]
    with pytest.raises(Conflict) as got:
        store.add_channel(
            Channel(
                f"channel--{uuid.uuid4()}", "g", ChannelKind.GROUP, a.id, frozenset({a.id}), "t"
            ),
            a.id,
            "t",
        )
    assert got.value.code == "channel.exists"
    # names are unique per owner only: another owner may use the same one
    other = Channel(
        f"channel--{uuid.uuid4()}", "g", ChannelKind.GROUP, c.id, frozenset({c.id}), "t"
    )
    store.add_channel(other, c.id, "t")
    assert sorted(x.owner for x in store.directory().channels.values() if x.name == "g") == sorted(
        [a.id, c.id]
    )


def test_inbox_cursor_is_ordered_and_resumable(store: Store) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    ids = []
    for _ in range(25):
        env = envelope(a.id, [b.id])
        store.put_share(env, [b.id], "t")
        ids.append(env.id)
    seen: list[str] = []
    cursor = 0
    while True:
        page = store.inbox(b.id, cursor, 7)
        if not page:
            break
        seqs = [r[0].seq for r in page]
        assert seqs == sorted(seqs) and seqs[0] > cursor
        seen += [r[0].share_id for r in page]
        cursor = seqs[-1]
    assert seen == ids
    assert store.inbox_head(b.id) == cursor
    assert store.inbox_head(a.id) == 0


def test_console_sessions(store: Store) -> None:
    a = member("a")
    store.add_member(a)
    u = User(id=f"user--{uuid.uuid4()}", member_id=a.id, name="ana", created="t")
    store.add_user(u, "tokhash")
    assert store.user_by_id(u.id) == u
    assert store.user_by_id("user--none") is None
    store.add_session("h1", u.id, "csrf1", "2026-12-01T00:00:00.000Z")
    store.add_session("h2", u.id, "csrf2", "2026-11-01T00:00:00.000Z")
    now = "2026-11-29T00:00:00.000Z"
    assert store.get_session("h1", now) == (u.id, "csrf1")
    assert store.get_session("h2", now) is None  # expired
    assert store.get_session("nope", now) is None
    store.drop_session("h1", now)
    assert store.get_session("h1", now) is None
