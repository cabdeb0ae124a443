"""One contract suite run against every Store backend (SQLite, PostgreSQL)."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vigil.errors import Conflict, InputError
from vigil.model import Channel, ChannelKind, Envelope, Member, MemberKind, User, Wrap
from vigil.storage import Store, open_store
from vigil.storage.base import (
    Sql,
    header_bytes,
    queue_inbox,
    serialize_writes,
    take_positions,
    wraps_to_bytes,
)
from vigil.storage.schema import (
    CHANNEL_NAMES_MIGRATION,
    FAN_OUT_INDEXES_MIGRATION,
    MEMBER_CURSOR_MIGRATION,
    MIGRATIONS,
    TAXII_FROM_INBOX_MIGRATION,
    schema_version,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'vigil.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    s = open_store(url)
    try:
        yield s
    finally:
        s.close()


def member(name: str) -> Member:
    return Member(id=f"identity--{uuid.uuid4()}", name=name, display_name=name.upper(),
                  country="EE", kind=MemberKind.CERT, sign_key=b"s" * 32,
                  sign_key_id="ed25519:" + "0" * 32, enc_key=b"e" * 32,
                  enc_key_id="x25519:" + "1" * 32, created="2026-11-29T08:00:00.000Z")


def envelope(originator: str, recipients: list[str], payload: bytes = b"{}") -> Envelope:
    sid = f"share--{uuid.uuid4()}"
    header = {"v": 1, "kind": "share", "id": sid, "originator": originator,
              "created": "2026-11-29T08:00:00.000Z", "expires": None,
              "audience": {"tlp": "amber", "channel": None, "recipients": sorted(recipients)},
              "handling": {"purpose": None, "no_onward": False, "codes": []},
              "payload": {"form": "sealed", "size": len(payload), "digest": "sha256:x"}}
    return Envelope(header=header, signature=b"sig", payload=payload,
                    wraps=(Wrap(recipients[0], "x25519:k", b"\x00\x01blob"),))


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    assert store.get_meta("schema_version") == str(schema_version())
    store.set_meta("node_id", "node--1")
    store.set_meta("node_id", "node--2")
    assert store.get_meta("node_id") == "node--2"
    assert store.get_meta("nothing") is None


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
    store.add_channel(Channel(f"channel--{uuid.uuid4()}", "h", ChannelKind.GROUP, c.id,
                              frozenset({b.id, c.id}), "t"), c.id, "t")
    ch = Channel(id=f"channel--{uuid.uuid4()}", name="g", kind=ChannelKind.GROUP, owner=a.id,
                 members=frozenset({a.id, b.id}), created="t0")
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
        store.add_channel(Channel(f"channel--{uuid.uuid4()}", "g", ChannelKind.GROUP, a.id,
                                  frozenset({a.id}), "t"), a.id, "t")
    assert got.value.code == "channel.exists"
    # names are unique per owner only: another owner may use the same one
    other = Channel(f"channel--{uuid.uuid4()}", "g", ChannelKind.GROUP, c.id,
                    frozenset({c.id}), "t")
    store.add_channel(other, c.id, "t")
    assert sorted(x.owner for x in store.directory().channels.values()
                  if x.name == "g") == sorted([a.id, c.id])


def test_put_share_fans_out_in_one_transaction(store: Store) -> None:
    a, b, c = member("a"), member("b"), member("c")
    for m in (a, b, c):
        store.add_member(m)
    env = envelope(a.id, [b.id, c.id], b"\x00payload\xff")
    assert store.put_share(env, [b.id, c.id], "t") is True
    assert store.put_share(env, [b.id, c.id], "t") is False  # idempotent by share id
    got = store.get_share(env.id)
    assert got is not None
    assert got[0] == env or (got[0].header == env.header and got[0].payload == env.payload
                             and got[0].wraps == env.wraps and got[0].signature == env.signature)
    assert not got[1].recalled
    other = Envelope(header={**env.header, "created": "2026-11-30T00:00:00.000Z"},
                     signature=b"other", payload=b"x", wraps=())
    with pytest.raises(Conflict):
        store.put_share(other, [b.id], "t")
    for m in (b, c):
        rows = store.inbox(m.id, 0, 10)
        assert [r[1].id for r in rows] == [env.id]
        assert rows[0][0].member == m.id
    assert store.inbox(a.id, 0, 10) == []
    assert store.share_count() == 1
    assert [e.id for _, e, _ in store.sent(a.id, 0, 10)] == [env.id]


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


def test_inbox_positions_count_only_the_members_own_entries(store: Store) -> None:
    """A member's cursor goes 1, 2, 3, … whatever others receive, and a position is never
    handed out twice, even after its row went (purge) or moved (recall, release)."""
    a, b, c = member("a"), member("b"), member("c")
    for m in (a, b, c):
        store.add_member(m)
    mine = []
    for i in range(9):
        for _ in range(i % 4):  # shares b does not receive, to c and to many at once
            store.put_share(envelope(a.id, [c.id]), [c.id], "t")
        env = envelope(a.id, [b.id, c.id])
        store.put_share(env, [b.id, c.id], "t")
        mine.append(env.id)
    page = store.inbox(b.id, 0, 100)
    assert [e.seq for e, _, _ in page] == list(range(1, 10))
    assert [e.share_id for e, _, _ in page] == mine
    assert store.inbox_head(b.id) == 9
    assert [e.seq for e, _ in store.inbox_refs(b.id, 4, 100)] == [5, 6, 7, 8, 9]
    assert [[e.seq for e, _ in x] for x in store.inbox_refs_many(
        [(b.id, 7), (c.id, 0), (a.id, 0)], 100)][::2] == [[8, 9], []]

    def drop_and_requeue(sql: Sql) -> None:
        serialize_writes(sql)
        sql.execute("DELETE FROM inbox WHERE share_id=?", (mine[-1],))  # a purge
        sql.execute("DELETE FROM inbox WHERE share_id=?", (mine[0],))
        queue_inbox(sql, mine[0], [b.id, c.id], "t2")  # a recall, delivered anew

    store.write(drop_and_requeue)
    env = envelope(a.id, [b.id])
    store.put_share(env, [b.id], "t3")
    after = [(e.seq, e.share_id) for e, _, _ in store.inbox(b.id, 8, 100)]
    assert after == [(10, mine[0]), (11, env.id)]
    assert store.inbox_head(b.id) == 11


def test_take_positions_takes_many_members_in_one_statement_per_chunk(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A share to many members reserves their positions with one statement per
    ``TAKE_CHUNK`` members (not one per member), each member's own run of positions."""
    from vigil.storage import base

    monkeypatch.setattr(base, "TAKE_CHUNK", 3)
    ms = [f"identity--{i:02d}" for i in range(7)]
    counts = {m: 1 + i % 3 for i, m in enumerate(ms)}
    statements: list[str] = []

    def take(sql: Sql) -> tuple[dict[str, int], dict[str, int]]:
        class Counting:
            dialect = sql.dialect

            def execute(self, text: str, params: object = ()) -> object:
                statements.append(text)
                return sql.execute(text, params)  # type: ignore[arg-type]

            def executemany(self, text: str, rows: object) -> None:
                raise AssertionError("take_positions reads the heads back")

        serialize_writes(sql)
        first = take_positions(Counting(), "inbox", counts)  # type: ignore[arg-type]
        return first, take_positions(Counting(), "inbox", counts)  # type: ignore[arg-type]

    first, second = store.write(take)
    assert len(statements) == 2 * 3  # 7 members in chunks of 3, twice
    assert first == dict.fromkeys(ms, 1)
    assert second == {m: 1 + n for m, n in counts.items()}
    assert {str(m): int(h) for m, h in store.query(
        "SELECT member_id, head FROM cursor_heads WHERE stream=?", ("inbox",))} == \
        {m: 2 * n for m, n in counts.items()}


def _stores_before(migration: list[str], request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Callable[[], None]]]:
    """For each backend: the URL of a store migrated up to (not including)
    ``migration``, and a function that lets the next open apply every migration."""
    from vigil.storage import postgres as pg_module
    from vigil.storage import sqlite as sqlite_module

    old = MIGRATIONS[:MIGRATIONS.index(migration)]
    for mod, url in ((sqlite_module, f"sqlite:///{tmp_path / 'old.db'}"),
                     (pg_module, request.getfixturevalue("pg_empty_url"))):
        monkeypatch.setattr(mod, "MIGRATIONS", old)
        yield url, functools.partial(monkeypatch.setattr, mod, "MIGRATIONS", MIGRATIONS)


def test_inbox_positions_migration_keeps_cursors(
        request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A store made before per-member positions keeps each entry's old seq as its
    position, and hands out new ones past every seq ever handed out."""
    for url, upgrade in _stores_before(MEMBER_CURSOR_MIGRATION, request, tmp_path,
                                       monkeypatch):
        a, b = member("a"), member("b")
        s = open_store(url)
        try:
            s.add_member(a)
            s.add_member(b)
            envs = [envelope(a.id, [b.id]) for _ in range(4)]

            def old_rows(sql: Sql, envs: list[Envelope] = envs, a: Member = a,
                         b: Member = b) -> None:
                for env in envs:
                    sql.execute(
                        "INSERT INTO shares(id, originator, header, signature, payload, "
                        "wraps, created, expires, recalled, purged) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?)",
                        (env.id, env.originator, header_bytes(env.header), env.signature,
                         env.payload, wraps_to_bytes(env.wraps), env.created, None,
                         False, False))
                    sql.execute("INSERT INTO inbox(member_id, share_id, added) "
                                "VALUES(?,?,?)", (b.id, env.id, "t"))
                    sql.execute("INSERT INTO inbox(member_id, share_id, added) "
                                "VALUES(?,?,?)", (a.id, env.id, "t"))
                sql.execute("DELETE FROM inbox WHERE share_id=?", (envs[-1].id,))
                sql.execute("INSERT INTO blind_matches(share_id, other_id, channel_id, "
                            "epoch, tokens, created) VALUES(?,?,?,?,?,?)",
                            (envs[1].id, envs[0].id, "channel--x", 1, 2, "t"))
                for _ in range(2):
                    sql.execute("INSERT INTO correlations(member_id, share_id, other_id, "
                                "kind, value, other_value) VALUES(?,?,?,?,?,?)",
                                (a.id, envs[0].id, envs[1].id, "ip", "192.0.2.1",
                                 "192.0.2.1"))
                sql.execute("DELETE FROM correlations WHERE seq = 2")

            s.write(old_rows)
            before = [r[0] for r in s.query("SELECT seq FROM inbox WHERE member_id=? "
                                            "ORDER BY seq", (b.id,))]
        finally:
            s.close()
        upgrade()
        s = open_store(url)
        try:
            assert [e.seq for e, _, _ in s.inbox(b.id, 0, 100)] == before == [1, 3, 5]
            env = envelope(a.id, [b.id])
            s.put_share(env, [b.id], "t")
            assert [(e.seq, e.share_id) for e, _, _ in s.inbox(b.id, 5, 100)] == \
                [(9, env.id)]  # past seq 8, the deleted row's
            # the blind match becomes a notice of each party to both shares
            assert sorted(s.query("SELECT member_id, share_id, other_id, pos "
                                  "FROM blind_notices")) == \
                sorted((m.id, envs[1].id, envs[0].id, 1) for m in (a, b))
            # notice rows keep their seq as position; new ones go past every old seq
            assert s.query("SELECT seq, pos FROM correlations") == [(1, 1)]
            assert s.query("SELECT head FROM cursor_heads WHERE member_id=? AND "
                           "stream='correlations'", (a.id,)) == [(2,)]
        finally:
            s.close()


def test_channel_names_migration_keeps_channels(
        request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels made while names were node-wide keep their members and events (and
    their foreign keys); afterwards two owners may use one name."""
    for url, upgrade in _stores_before(CHANNEL_NAMES_MIGRATION, request, tmp_path,
                                       monkeypatch):
        a, b = member("a"), member("b")
        s = open_store(url)
        try:
            s.add_member(a)
            s.add_member(b)
            ch = Channel(f"channel--{uuid.uuid4()}", "ops", ChannelKind.GROUP, a.id,
                         frozenset({a.id, b.id}), "t")
            s.add_channel(ch, a.id, "t")
            with pytest.raises(Conflict):  # the old rule: node-wide names
                s.add_channel(Channel(f"channel--{uuid.uuid4()}", "ops", ChannelKind.GROUP,
                                      b.id, frozenset({b.id}), "t"), b.id, "t")
        finally:
            s.close()
        upgrade()
        s = open_store(url)
        try:
            assert s.directory().channels[ch.id].members == {a.id, b.id}
            assert len(s.channel_events(ch.id)) == 3
            s.add_channel(Channel(f"channel--{uuid.uuid4()}", "ops", ChannelKind.GROUP,
                                  b.id, frozenset({b.id}), "t"), b.id, "t")
            with pytest.raises(Conflict):
                s.add_channel(Channel(f"channel--{uuid.uuid4()}", "ops", ChannelKind.GROUP,
                                      a.id, frozenset({a.id}), "t"), a.id, "t")
            with pytest.raises(Exception):  # noqa: B017 - either backend's FK error
                s.write(lambda sql, a=a: sql.execute(
                    "INSERT INTO channel_members(channel_id, member_id) VALUES(?,?)",
                    ("channel--nope", a.id)))
        finally:
            s.close()


def test_concurrent_writers_lose_nothing(store: Store) -> None:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                store.put_share(envelope(a.id, [b.id]), [b.id], "t")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.inbox(b.id, 0, 1000)) == 80


def test_inbox_refs_many_matches_one_by_one(store: Store) -> None:
    a, b, c = member("a"), member("b"), member("c")
    for m in (a, b, c):
        store.add_member(m)
    for i in range(12):
        rec = [b.id, c.id] if i % 3 else [b.id]
        store.put_share(envelope(a.id, rec), rec, "t")
    cursors = [(b.id, 0), (c.id, 0), (a.id, 0), (b.id, store.inbox_head(b.id) - 3),
               (c.id, 10_000)]
    many = store.inbox_refs_many(cursors, 5)
    assert many == [store.inbox_refs(m, after, 5) for m, after in cursors]
    assert [len(x) for x in many][:3] == [5, 5, 0]
    assert store.inbox_refs_many([], 5) == []


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


def test_feature_sql_write_read_and_rollback(store: Store) -> None:
    assert store.dialect in ("sqlite", "postgresql")
    store.write(lambda sql: sql.executemany(
        "INSERT INTO meta(key, value) VALUES(?, ?)", [("f.a", "1"), ("f.b", "2")]))
    rows = store.read(lambda sql: sql.execute(
        "SELECT key, value FROM meta WHERE key IN (?, ?) ORDER BY key", ("f.a", "f.b")
    ).fetchall())
    assert [tuple(r) for r in rows] == [("f.a", "1"), ("f.b", "2")]

    def fails(sql: Sql) -> None:
        sql.execute("INSERT INTO meta(key, value) VALUES(?, ?)", ("f.c", "3"))
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        store.write(fails)
    assert store.get_meta("f.c") is None  # the whole transaction rolled back


def test_put_share_also_runs_in_the_same_transaction(store: Store) -> None:
    a, b = member("a"), member("b")
    for m in (a, b):
        store.add_member(m)
    env = envelope(a.id, [b.id])
    calls: list[str] = []

    def also(sql: Sql) -> None:
        calls.append(env.id)
        sql.execute("INSERT INTO meta(key, value) VALUES(?, ?)", ("also." + env.id, "x"))

    assert store.put_share(env, [b.id], "t", also) is True
    assert store.put_share(env, [b.id], "t", also) is False  # not run for a stored share
    assert calls == [env.id]
    assert store.get_meta("also." + env.id) == "x"

    bad = envelope(a.id, [b.id])

    def boom(sql: Sql) -> None:
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        store.put_share(bad, [b.id], "t", boom)
    assert store.get_share(bad.id) is None  # share and inbox rows rolled back with it
    assert [e.id for _, e, _ in store.inbox(b.id, 0, 10)] == [env.id]


def test_put_shares_stores_each_or_refuses_it_alone(store: Store) -> None:
    a, b, c = member("a"), member("b"), member("c")
    for m in (a, b, c):
        store.add_member(m)
    kept = envelope(a.id, [b.id])
    assert store.put_share(kept, [b.id], "t") is True
    first, second, third, fourth = (envelope(a.id, [b.id, c.id]) for _ in range(4))
    clash = Envelope(header={**kept.header, "created": "2026-11-30T00:00:00.000Z"},
                     signature=b"other", payload=b"x", wraps=())
    ran: list[str] = []

    def also(env: Envelope) -> Callable[[Sql], None]:
        def run(sql: Sql) -> None:
            ran.append(env.id)
            sql.execute("INSERT INTO meta(key, value) VALUES(?, ?)", ("also." + env.id, "x"))
            if env is third:  # refused after its rows and its own write
                raise InputError("no", code="share.refused_here")
        return run

    got = store.put_shares([(first, [b.id, c.id], also(first)),
                            (clash, [b.id], None),
                            (second, [b.id], also(second)),
                            (third, [b.id, c.id], also(third)),
                            (kept, [b.id], None),
                            (fourth, [c.id], also(fourth))], "t")
    assert got[0] is True and got[2] is True and got[5] is True
    assert isinstance(got[1], Conflict) and got[1].code == "share.id_conflict"
    assert isinstance(got[3], InputError) and got[3].code == "share.refused_here"
    assert got[4] is False  # the same share again: stored already
    assert ran == [first.id, second.id, third.id, fourth.id]
    for env in (first, second, fourth):
        assert store.get_meta("also." + env.id) == "x"
    assert store.get_share(third.id) is None  # nothing of the refused one
    assert store.get_meta("also." + third.id) is None
    assert store.get_share(kept.id)[0].signature == b"sig"  # type: ignore[index]
    assert [e.id for _, e, _ in store.inbox(b.id, 0, 10)] == \
        [kept.id, first.id, second.id]
    assert [e.id for _, e, _ in store.inbox(c.id, 0, 10)] == [first.id, fourth.id]

    fifth, sixth = envelope(a.id, [b.id]), envelope(a.id, [b.id])

    def boom(sql: Sql) -> None:
        raise RuntimeError("abort")

    with pytest.raises(RuntimeError):  # not a refusal: raised, nothing of that one
        store.put_shares([(fifth, [b.id], None), (sixth, [b.id], boom)], "t")
    assert store.get_share(sixth.id) is None
    assert store.put_shares([], "t") == []


_GONE = ("inbox_member_seq", "taxii_access_member", "taxii_access_channel",
         "inbox_member_share", "taxii_access_share")
_KEPT = ("inbox_share_member", "inbox_member_pos")  # (taxii_access went in v22)


def _indexes(store: Store) -> set[str]:
    if store.dialect == "sqlite":
        rows = store.query("SELECT name FROM sqlite_master WHERE type = ?", ("index",))
    else:
        rows = store.query("SELECT indexname FROM pg_indexes WHERE schemaname = "
                           "current_schema()")
    return {str(r[0]) for r in rows}


def test_a_share_writes_fewer_member_keyed_index_entries(
        request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every share writes an entry per recipient into each member-keyed index: the ones
    per-member positions replaced are gone from a store made before, the ones that keep
    a share once per member are keyed by share first, and the inbox still pages and
    still refuses a share twice for one member."""
    for url, upgrade in _stores_before(FAN_OUT_INDEXES_MIGRATION, request, tmp_path,
                                       monkeypatch):
        s = open_store(url)
        try:
            assert set(_GONE) <= _indexes(s)
        finally:
            s.close()
        upgrade()
        s = open_store(url)
        try:
            assert not set(_GONE) & _indexes(s) and set(_KEPT) <= _indexes(s)
            a, b = member("a"), member("b")
            s.add_member(a)
            s.add_member(b)
            envs = [envelope(a.id, [b.id]) for _ in range(3)]
            for env in envs:
                s.put_share(env, [b.id], "t")
            assert [e.share_id for e, _, _ in s.inbox(b.id, 1, 10)] == \
                [env.id for env in envs[1:]]

            def again(sql: Sql, row: tuple[str, str] = (b.id, envs[0].id)) -> None:
                sql.execute("INSERT INTO inbox(member_id, share_id, added, pos) "
                            "VALUES(?,?,?,?)", (*row, "t", 99))

            with pytest.raises(Exception, match=r"(?i)unique"):
                s.write(again)
        finally:
            s.close()


def _tables(store: Store) -> set[str]:
    if store.dialect == "sqlite":
        rows = store.query("SELECT name FROM sqlite_master WHERE type = ?", ("table",))
    else:
        rows = store.query("SELECT tablename FROM pg_tables WHERE schemaname = "
                           "current_schema()")
    return {str(r[0]) for r in rows}


def test_taxii_access_migration_reads_each_member_s_shares_from_the_inbox(
        request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """v22 drops the TAXII index's per-member rows: every (member, share) they held is
    the member's inbox row or its own share, which takes a position after the
    originator's last inbox position (in the order stored), past which the inbox goes
    on; an originator that is also a recipient keeps its inbox row only."""
    for url, upgrade in _stores_before(TAXII_FROM_INBOX_MIGRATION, request, tmp_path,
                                       monkeypatch):
        a, b, c = member("a"), member("b"), member("c")
        s = open_store(url)
        try:
            for m in (a, b, c):
                s.add_member(m)
            sent = [(a, [b]), (b, [a, c]), (a, [a, b]), (a, [c])]
            envs = [envelope(o.id, [r.id for r in to]) for o, to in sent]
            for n, (env, (_, to)) in enumerate(zip(envs, sent, strict=True)):
                s.put_share(env, [r.id for r in to], f"2026-11-29T08:00:0{n}.000Z")

            def old_index(sql: Sql, envs: list[Envelope] = envs,
                          sent: list[tuple[Member, list[Member]]] = sent,
                          b: Member = b) -> None:  # as the index wrote it before v22
                serialize_writes(sql)
                for n, (env, (o, to)) in enumerate(zip(envs, sent, strict=True)):
                    seq = sql.execute("SELECT seq FROM shares WHERE id=?",
                                      (env.id,)).fetchone()[0]
                    at = f"2026-11-29T08:00:0{n}.000Z"
                    sql.execute("INSERT INTO taxii_shares(share_seq, share_id, originator, "
                                "channel, sealed, added) VALUES(?,?,?,?,?,?)",
                                (seq, env.id, o.id, "", True, at))
                    readers = sorted({o.id, *(r.id for r in to)})
                    pos = take_positions(sql, "taxii_access", dict.fromkeys(readers, 1))
                    for m in readers:
                        sql.execute("INSERT INTO taxii_access(member_id, share_seq, channel, "
                                    "added, pos) VALUES(?,?,?,?,?)", (m, seq, "", at, pos[m]))
                # a share let through later moves to the end of b's inbox
                sql.execute("DELETE FROM inbox WHERE member_id=? AND share_id=?",
                            (b.id, envs[0].id))
                queue_inbox(sql, envs[0].id, [b.id], "2026-11-29T09:00:00.000Z", new=True)

            s.write(old_index)
            before = {(str(m), str(i)) for m, i in s.query(
                "SELECT a.member_id, t.share_id FROM taxii_access a JOIN taxii_shares t "
                "ON t.share_seq = a.share_seq")}
        finally:
            s.close()
        upgrade()
        s = open_store(url)
        try:
            assert "taxii_access" not in _tables(s)
            assert not s.query("SELECT 1 FROM cursor_heads WHERE stream = 'taxii_access'")
            after = [(str(m), str(i)) for m, i in s.query(
                "SELECT i.member_id, t.share_id FROM inbox i JOIN taxii_shares t "
                "ON t.share_id = i.share_id UNION ALL SELECT originator, share_id "
                "FROM taxii_shares WHERE own_pos IS NOT NULL")]
            assert sorted(after) == sorted(before) and len(before) == 9
            own = dict(s.query("SELECT share_id, own_pos FROM taxii_shares"))
            # a's inbox: envs[1] at 1, envs[2] at 2; b's: envs[2] at 2, envs[0] moved to 3
            assert [own[e.id] for e in envs] == [3, 4, None, 4]
            assert (s.inbox_head(a.id), s.inbox_head(b.id), s.inbox_head(c.id)) == (4, 4, 2)
            # the entry added later than its share was stored is noted as placed again
            assert [tuple(r) for r in s.query("SELECT member_id, pos, added FROM inbox_moves")
                    ] == [(b.id, 3, "2026-11-29T09:00:00.000Z")]
            s.put_share(envelope(c.id, [a.id]), [a.id], "2026-11-29T10:00:00.000Z")
            assert [e.seq for e, _, _ in s.inbox(a.id, 0, 10)] == [1, 2, 5]
        finally:
            s.close()
