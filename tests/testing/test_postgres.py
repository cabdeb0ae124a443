"""Fresh PostgreSQL databases for tests: a used one is handed out again only emptied, and
only while it still has the template's schema and settings."""

from __future__ import annotations

import psycopg
import pytest

from vigil.storage.schema import schema_version
from vigil.testing.postgres import Databases

pytestmark = pytest.mark.service


def tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]


def test_a_used_database_comes_back_empty(pg_databases: Databases) -> None:
    url = pg_databases.create()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO meta(key, value) VALUES ('left', 'behind')")
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'dir_version'")
    pg_databases.release(url)
    again = pg_databases.create()
    assert again == url  # the same database, not a new copy
    with psycopg.connect(again) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    # the template's rows are back (migrations may add their own), the test's are gone
    assert "left" not in meta
    assert meta["schema_version"] == str(schema_version()) and meta["dir_version"] == "0"
    pg_databases.release(again)


def test_a_database_with_other_settings_or_tables_is_not_reused(
        pg_databases: Databases) -> None:
    url = pg_databases.create()
    name = url.rpartition("/")[2]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    pg_databases.release(url)
    other = pg_databases.create()
    assert other != url
    with psycopg.connect(other, autocommit=True) as conn:
        conn.execute("CREATE TABLE scratch (x int)")
    pg_databases.release(other)
    third = pg_databases.create()
    assert third not in (url, other)
    assert "scratch" not in tables(third)
    pg_databases.release(third)


def test_an_empty_database_has_no_table(pg_databases: Databases) -> None:
    with pg_databases.fresh(migrated=False) as url:
        assert tables(url) == []
