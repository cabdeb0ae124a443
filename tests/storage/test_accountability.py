"""The statements of receipts, recalls and retention (``vigil.storage.accountability``), on
SQLite and PostgreSQL: receipts and recalls as written, a share's content removed once
(payload, wraps, inbox rows), expired shares soonest first, and on SQLite no copy of a
purged payload left in the database file or its WAL."""

from __future__ import annotations

from pathlib import Path

from tests.storage.conftest import envelope, member

from vigil.model import Envelope
from vigil.storage import Store, accountability, open_store
from vigil.storage.base import Sql


def shares(
    store: Store,
    n: int,
    expires: list[str | None] | None = None,
    payload: bytes = b"{}",
) -> tuple[str, str, list[Envelope]]:
    a, b = member("a"), member("b")
    store.add_member(a)
    store.add_member(b)
    out = []
    for i in range(n):
        env = envelope(a.id, [b.id], payload)
        if expires is not None:
            env = Envelope(
                header={**env.header, "expires": expires[i]},
                signature=env.signature,
                payload=env.payload,
                wraps=env.wraps,
            )
        store.put_share(env, [b.id], "2026-11-29T08:00:00.000Z")
        out.append(env)
    return a.id, b.id, out


def test_receipts_and_recalls_as_written(store: Store) -> None:
    a, b, (env,) = shares(store, 1)
    got = store.read(lambda sql: accountability.receipt(sql, env.id, b, "opened"))
    assert got is None
    store.write(lambda sql: accountability.add_receipt(sql, env.id, b, "opened", "t1", 7))
    assert store.read(lambda sql: accountability.receipt(sql, env.id, b, "opened")) == ("t1", 7)
    assert store.read(lambda sql: accountability.has_receipt(sql, env.id, b, "opened"))
    assert not store.read(lambda sql: accountability.has_receipt(sql, env.id, a, "opened"))
    assert store.read(lambda sql: accountability.recall_of(sql, env.id)) is None
    store.write(lambda sql: accountability.add_recall(sql, env.id, a, "t2", "key-1", 8))
    assert store.read(lambda sql: accountability.recall_of(sql, env.id)) == ("t2", "key-1", 8)
    got_receipts, recall, inbox, delays = store.read(
        lambda sql: accountability.receipts_of(sql, env.id)
    )
    assert [tuple(r) for r in got_receipts] == [(b, "opened", "t1", 7)]
    assert tuple(recall) == ("t2", "key-1", 8)
    assert [str(r[0]) for r in inbox] == [b] and list(delays) == []


def test_a_share_s_content_is_removed_once(store: Store) -> None:
    _a, b, (env, other) = shares(store, 2)

    def recall(sql: Sql) -> bool:
        done = accountability.clear_payload(sql, env.id, "recalled")
        accountability.drop_inbox_rows(sql, env.id)
        return done

    assert store.write(recall) is True
    got = store.get_share(env.id)
    assert got is not None
    assert got[1].recalled and not got[1].purged
    assert not got[0].payload and got[0].wraps == ()
    assert [e.share_id for e, _, _ in store.inbox(b, 0, 10)] == [other.id]
    assert store.read(lambda sql: accountability.unpurged(sql, env.id))[0] == env.originator
    assert store.write(lambda sql: accountability.clear_payload(sql, env.id, "purged"))
    assert store.read(lambda sql: accountability.unpurged(sql, env.id)) is None
    assert not store.write(lambda sql: accountability.clear_payload(sql, env.id, "purged"))
    assert store.get_share(other.id)[0].payload == other.payload  # type: ignore[index]


def test_expired_shares_soonest_first(store: Store) -> None:
    _a, _b, envs = shares(
        store,
        4,
        ["2026-12-03T00:00:00.000Z", None, "2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
    )
    now = "2026-12-05T00:00:00.000Z"
    assert store.read(lambda sql: accountability.expired(sql, now, 10)) == [envs[2].id, envs[0].id]
    assert store.read(lambda sql: accountability.expired(sql, now, 1)) == [envs[2].id]
    store.write(lambda sql: accountability.clear_payload(sql, envs[2].id, "purged"))
    assert store.read(lambda sql: accountability.expired(sql, now, 10)) == [envs[0].id]


def test_a_purged_payload_leaves_the_sqlite_file_and_its_wal(tmp_path: Path) -> None:
    secret = b"PURGE-ME-" + bytes(range(48, 58)) * 40
    s = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        s.migrate()
        # as a build of SQLite without SQLITE_SECURE_DELETE has it
        s.write(lambda sql: sql.execute("PRAGMA secure_delete=0"))
        _a, _b, (env,) = shares(s, 1, payload=secret)

        def purge(sql: Sql) -> None:
            prev = accountability.secure_delete(sql)
            accountability.clear_payload(sql, env.id, "purged")
            accountability.restore_secure_delete(sql, prev)

        s.write(purge)
        assert accountability.scrub(s) is True
        files = [p for p in tmp_path.iterdir() if p.name.startswith("v.db")]
        assert files and not any(secret[:40] in p.read_bytes() for p in files)
        # the writer's own setting is back
        assert s.write(lambda sql: sql.execute("PRAGMA secure_delete").fetchone()[0]) == 0
    finally:
        s.close()
