"""One contract suite run against every Store backend (SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from tests.storage.conftest import envelope, member

from vigil.errors import Conflict, InputError
from vigil.model import Envelope
from vigil.storage import Store
from vigil.storage.base import (
    Sql,
    queue_inbox,
    serialize_writes,
    take_positions,
)


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


