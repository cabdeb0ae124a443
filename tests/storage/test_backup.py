"""The store's side of backup (``vigil.storage.backup``): share rows page by page in order,
an online copy of a SQLite database while it is open, a PostgreSQL snapshot to dump
from, and whether a PostgreSQL database is empty."""

from __future__ import annotations

from pathlib import Path

from tests.storage.conftest import envelope, member

from vigil.storage import Store, backup, open_store


def fill(s: Store, n: int, names: str = "ab") -> list[str]:
    a, b = member(names[0]), member(names[1])
    s.add_member(a)
    s.add_member(b)
    ids = []
    for _ in range(n):
        env = envelope(a.id, [b.id], b"payload")
        s.put_share(env, [b.id], "t")
        ids.append(env.id)
    return ids


def test_share_rows_page_in_order(store: Store) -> None:
    ids = fill(store, 7)
    assert store.read(backup.share_count) == 7
    seen: list[str] = []
    after = 0
    while page := store.read(lambda sql, after=after: backup.shares_after(sql, after, 3)):
        assert len(page) <= 3
        seen += [str(r[1]) for r in page]
        after = int(page[-1][0])
    assert seen == ids
    row = store.read(lambda sql: backup.shares_after(sql, 0, 1))[0]
    assert bytes(row[4]) == b"payload" and not row[6] and not row[7]


def test_a_sqlite_copy_is_taken_while_the_store_is_open(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    s = open_store(f"sqlite:///{path}")
    try:
        s.migrate()
        ids = fill(s, 3)
        with backup.sqlite_copy(path, tmp_path / "copy.db") as sql:
            assert backup.share_count(sql) == 3
            fill(s, 1, "cd")  # writers go on meanwhile
            assert [str(r[1]) for r in backup.shares_after(sql, 0, 10)] == ids
        assert s.share_count() == 4
    finally:
        s.close()
    copy = open_store(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        assert copy.share_count() == 3
    finally:
        copy.close()


def test_a_postgres_snapshot_reads_one_moment(pg_url: str, pg_empty_url: str) -> None:
    s = open_store(pg_url)
    try:
        ids = fill(s, 2)
        with backup.postgres_snapshot(pg_url) as (sql, snapshot):
            assert snapshot
            assert backup.share_count(sql) == 2
            fill(s, 1, "cd")
            assert [str(r[1]) for r in backup.shares_after(sql, 0, 10)] == ids
        assert s.share_count() == 3
    finally:
        s.close()
    assert backup.postgres_is_empty(pg_empty_url)
    assert not backup.postgres_is_empty(pg_url)
