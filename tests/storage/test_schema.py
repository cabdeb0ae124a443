"""The schema and its migrations (``vigil.storage.schema``), on SQLite and PostgreSQL:
migrating twice changes nothing, and a store made before a migration keeps its rows' meaning
after it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.storage.conftest import envelope, member, stores_before

from vigil.errors import Conflict
from vigil.model import Channel, ChannelKind, Envelope, Member
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
    TAXII_FROM_INBOX_MIGRATION,
    schema_version,
)


def test_migrate_is_idempotent(store: Store) -> None:
    store.migrate()
    store.migrate()
    assert store.get_meta("schema_version") == str(schema_version())
    store.set_meta("node_id", "node--1")
    store.set_meta("node_id", "node--2")
    assert store.get_meta("node_id") == "node--2"
    assert store.get_meta("nothing") is None


def test_inbox_positions_migration_keeps_cursors(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store made before per-member positions keeps each entry's old seq as its
    position, and hands out new ones past every seq ever handed out."""
    for url, upgrade in stores_before(MEMBER_CURSOR_MIGRATION, request, tmp_path, monkeypatch):
        a, b = member("a"), member("b")
        s = open_store(url)
        try:
            s.add_member(a)
            s.add_member(b)
            envs = [envelope(a.id, [b.id]) for _ in range(4)]

            def old_rows(
                sql: Sql, envs: list[Envelope] = envs, a: Member = a, b: Member = b
            ) -> None:
                for env in envs:
                    sql.execute(
                        "INSERT INTO shares(id, originator, header, signature, payload, "
                        "wraps, created, expires, recalled, purged) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?)",
                        (
                            env.id,
                            env.originator,
                            header_bytes(env.header),
                            env.signature,
                            env.payload,
                            wraps_to_bytes(env.wraps),
                            env.created,
                            None,
                            False,
                            False,
                        ),
                    )
                    sql.execute(
                        "INSERT INTO inbox(member_id, share_id, added) VALUES(?,?,?)",
                        (b.id, env.id, "t"),
                    )
                    sql.execute(
                        "INSERT INTO inbox(member_id, share_id, added) VALUES(?,?,?)",
                        (a.id, env.id, "t"),
                    )
                sql.execute("DELETE FROM inbox WHERE share_id=?", (envs[-1].id,))
                sql.execute(
                    "INSERT INTO blind_matches(share_id, other_id, channel_id, "
                    "epoch, tokens, created) VALUES(?,?,?,?,?,?)",
                    (envs[1].id, envs[0].id, "channel--x", 1, 2, "t"),
                )
                for _ in range(2):
                    sql.execute(
                        "INSERT INTO correlations(member_id, share_id, other_id, "
                        "kind, value, other_value) VALUES(?,?,?,?,?,?)",
                        (a.id, envs[0].id, envs[1].id, "ip", "192.0.2.1", "192.0.2.1"),
                    )
                sql.execute("DELETE FROM correlations WHERE seq = 2")

            s.write(old_rows)
            before = [
                r[0]
                for r in s.query("SELECT seq FROM inbox WHERE member_id=? ORDER BY seq", (b.id,))
            ]
        finally:
            s.close()
        upgrade()
        s = open_store(url)
        try:
            assert [e.seq for e, _, _ in s.inbox(b.id, 0, 100)] == before == [1, 3, 5]
            env = envelope(a.id, [b.id])
            s.put_share(env, [b.id], "t")
            assert [(e.seq, e.share_id) for e, _, _ in s.inbox(b.id, 5, 100)] == [
                (9, env.id)
            ]  # past seq 8, the deleted row's
            # the blind match becomes a notice of each party to both shares
            assert sorted(
                s.query("SELECT member_id, share_id, other_id, pos FROM blind_notices")
            ) == sorted((m.id, envs[1].id, envs[0].id, 1) for m in (a, b))
            # notice rows keep their seq as position; new ones go past every old seq
            assert s.query("SELECT seq, pos FROM correlations") == [(1, 1)]
            assert s.query(
                "SELECT head FROM cursor_heads WHERE member_id=? AND stream='correlations'", (a.id,)
            ) == [(2,)]
        finally:
            s.close()


def ops(owner: Member, *members: str) -> tuple[Channel, str, str]:
    """The arguments of ``add_channel`` for a new group channel named "ops" of ``owner``
    (its members: ``members``, else the owner alone)."""
    ch = Channel(f"channel--{uuid.uuid4()}", "ops", ChannelKind.GROUP, owner.id,
                 frozenset(members or (owner.id,)), "t")
    return ch, owner.id, "t"


def test_channel_names_migration_keeps_channels(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Channels made while names were node-wide keep their members and events (and
    their foreign keys); afterwards two owners may use one name."""
    for url, upgrade in stores_before(CHANNEL_NAMES_MIGRATION, request, tmp_path, monkeypatch):
        a, b = member("a"), member("b")
        s = open_store(url)
        try:
            s.add_member(a)
            s.add_member(b)
            made = ops(a, a.id, b.id)
            ch = made[0]
            s.add_channel(*made)
            with pytest.raises(Conflict):  # the old rule: node-wide names
                s.add_channel(*ops(b))
        finally:
            s.close()
        upgrade()
        s = open_store(url)
        try:
            assert s.directory().channels[ch.id].members == {a.id, b.id}
            assert len(s.channel_events(ch.id)) == 3
            s.add_channel(*ops(b))
            with pytest.raises(Conflict):
                s.add_channel(*ops(a))
            with pytest.raises(Exception):  # noqa: B017 - either backend's FK error
                s.write(
                    lambda sql, a=a: sql.execute(
                        "INSERT INTO channel_members(channel_id, member_id) VALUES(?,?)",
                        ("channel--nope", a.id),
                    )
                )
        finally:
            s.close()


_GONE = (
    "inbox_member_seq",
    "taxii_access_member",
    "taxii_access_channel",
    "inbox_member_share",
    "taxii_access_share",
)


_KEPT = ("inbox_share_member", "inbox_member_pos")  # (taxii_access went in v22)


def _indexes(store: Store) -> set[str]:
    if store.dialect == "sqlite":
        rows = store.query("SELECT name FROM sqlite_master WHERE type = ?", ("index",))
    else:
        rows = store.query("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    return {str(r[0]) for r in rows}


def test_a_share_writes_fewer_member_keyed_index_entries(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every share writes an entry per recipient into each member-keyed index: the ones
    per-member positions replaced are gone from a store made before, the ones that keep
    a share once per member are keyed by share first, and the inbox still pages and
    still refuses a share twice for one member."""
    for url, upgrade in stores_before(FAN_OUT_INDEXES_MIGRATION, request, tmp_path, monkeypatch):
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
            assert [e.share_id for e, _, _ in s.inbox(b.id, 1, 10)] == [env.id for env in envs[1:]]

            def again(sql: Sql, row: tuple[str, str] = (b.id, envs[0].id)) -> None:
                sql.execute(
                    "INSERT INTO inbox(member_id, share_id, added, pos) VALUES(?,?,?,?)",
                    (*row, "t", 99),
                )

            with pytest.raises(Exception, match=r"(?i)unique"):
                s.write(again)
        finally:
            s.close()


def _tables(store: Store) -> set[str]:
    if store.dialect == "sqlite":
        rows = store.query("SELECT name FROM sqlite_master WHERE type = ?", ("table",))
    else:
        rows = store.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {str(r[0]) for r in rows}


def test_taxii_access_migration_reads_each_member_s_shares_from_the_inbox(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v22 drops the TAXII index's per-member rows: every (member, share) they held is
    the member's inbox row or its own share, which takes a position after the
    originator's last inbox position (in the order stored), past which the inbox goes
    on; an originator that is also a recipient keeps its inbox row only."""
    for url, upgrade in stores_before(TAXII_FROM_INBOX_MIGRATION, request, tmp_path, monkeypatch):
        a, b, c = member("a"), member("b"), member("c")
        s = open_store(url)
        try:
            for m in (a, b, c):
                s.add_member(m)
            sent = [(a, [b]), (b, [a, c]), (a, [a, b]), (a, [c])]
            envs = [envelope(o.id, [r.id for r in to]) for o, to in sent]
            for n, (env, (_, to)) in enumerate(zip(envs, sent, strict=True)):
                s.put_share(env, [r.id for r in to], f"2026-11-29T08:00:0{n}.000Z")

            def old_index(
                sql: Sql,
                envs: list[Envelope] = envs,
                sent: list[tuple[Member, list[Member]]] = sent,
                b: Member = b,
            ) -> None:  # as the index wrote it before v22
                serialize_writes(sql)
                for n, (env, (o, to)) in enumerate(zip(envs, sent, strict=True)):
                    seq = sql.execute("SELECT seq FROM shares WHERE id=?", (env.id,)).fetchone()[0]
                    at = f"2026-11-29T08:00:0{n}.000Z"
                    sql.execute(
                        "INSERT INTO taxii_shares(share_seq, share_id, originator, "
                        "channel, sealed, added) VALUES(?,?,?,?,?,?)",
                        (seq, env.id, o.id, "", True, at),
                    )
                    readers = sorted({o.id, *(r.id for r in to)})
                    pos = take_positions(sql, "taxii_access", dict.fromkeys(readers, 1))
                    for m in readers:
                        sql.execute(
                            "INSERT INTO taxii_access(member_id, share_seq, channel, "
                            "added, pos) VALUES(?,?,?,?,?)",
                            (m, seq, "", at, pos[m]),
                        )
                # a share let through later moves to the end of b's inbox
                sql.execute(
                    "DELETE FROM inbox WHERE member_id=? AND share_id=?", (b.id, envs[0].id)
                )
                queue_inbox(sql, envs[0].id, [b.id], "2026-11-29T09:00:00.000Z", new=True)

            s.write(old_index)
            before = {
                (str(m), str(i))
                for m, i in s.query(
                    "SELECT a.member_id, t.share_id FROM taxii_access a JOIN taxii_shares t "
                    "ON t.share_seq = a.share_seq"
                )
            }
        finally:
            s.close()
        upgrade()
        s = open_store(url)
        try:
            assert "taxii_access" not in _tables(s)
            assert not s.query("SELECT 1 FROM cursor_heads WHERE stream = 'taxii_access'")
            after = [
                (str(m), str(i))
                for m, i in s.query(
                    "SELECT i.member_id, t.share_id FROM inbox i JOIN taxii_shares t "
                    "ON t.share_id = i.share_id UNION ALL SELECT originator, share_id "
                    "FROM taxii_shares WHERE own_pos IS NOT NULL"
                )
            ]
            assert sorted(after) == sorted(before) and len(before) == 9
            own = dict(s.query("SELECT share_id, own_pos FROM taxii_shares"))
            # a's inbox: envs[1] at 1, envs[2] at 2; b's: envs[2] at 2, envs[0] moved to 3
            assert [own[e.id] for e in envs] == [3, 4, None, 4]
            assert (s.inbox_head(a.id), s.inbox_head(b.id), s.inbox_head(c.id)) == (4, 4, 2)
            # the entry added later than its share was stored is noted as placed again
            assert [tuple(r) for r in s.query("SELECT member_id, pos, added FROM inbox_moves")] == [
                (b.id, 3, "2026-11-29T09:00:00.000Z")
            ]
            s.put_share(envelope(c.id, [a.id]), [a.id], "2026-11-29T10:00:00.000Z")
            assert [e.seq for e, _, _ in s.inbox(a.id, 0, 10)] == [1, 2, 5]
        finally:
            s.close()
