"""Fresh PostgreSQL databases for tests.

Creating a database costs from 0.3 s on a quiet machine to several seconds on a busy one
(the server copies and logs every page), and running every migration adds more.
``Databases`` migrates one template database once per test run and copies it
(``CREATE DATABASE … TEMPLATE …``) when it has no used one to give. A used database whose
schema and settings are still the template's (most are) is emptied (every other session
ended, every table truncated, the template's rows put back) and given to the next test;
any other is dropped on a background thread. Names are random, so test runs sharing one
server do not meet.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

PREFIX = "vigil_test_"


def database_url(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin_url``."""
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


class Databases:
    """Databases on the server of ``admin_url`` (a superuser or CREATEDB role)."""

    def __init__(self, admin_url: str, *, connect_timeout: int = 3) -> None:
        import psycopg

        self.admin_url = admin_url
        self._admin: Any = psycopg.connect(admin_url, autocommit=True,
                                           connect_timeout=connect_timeout)
        self._lock = threading.Lock()
        self._template: str | None = None
        self._shape = ""  # the template's schema and settings (``_shape_of``)
        self._tables: list[str] = []
        self._rows: dict[str, list[tuple[Any, ...]]] = {}  # what the migrations wrote
        self._free: list[str] = []  # emptied databases ready to hand out again
        self._drops: queue.Queue[str | None] = queue.Queue()
        self._dropper = threading.Thread(target=self._drop_loop, name="pg-drop", daemon=True)
        self._dropper.start()

    def _execute(self, sql: str) -> None:
        with self._lock:
            self._admin.execute(sql)

    def _template_name(self) -> str:
        """The migrated template, made at the first call."""
        if self._template is None:
            from vigil.storage.postgres import PostgresStore

            name = f"{PREFIX}template_{uuid.uuid4().hex[:12]}"
            self._execute(f'CREATE DATABASE "{name}"')
            url = database_url(self.admin_url, name)
            store = PostgresStore(url)
            try:
                store.migrate()
            finally:
                store.close()
            with self._connect(url) as conn:
                self._shape = _shape_of(conn)
                self._tables = [r[0] for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "ORDER BY tablename").fetchall()]
                for table in self._tables:
                    rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
                    if rows:
                        self._rows[table] = [tuple(r) for r in rows]
            self._template = name
        return self._template

    def create(self, *, migrated: bool = True) -> str:
        """A new database (a copy of the migrated template, or empty); its URL."""
        if migrated and self._free:
            return database_url(self.admin_url, self._free.pop())
        name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
        template = f' TEMPLATE "{self._template_name()}"' if migrated else ""
        self._execute(f'CREATE DATABASE "{name}"{template}')
        return database_url(self.admin_url, name)

    @contextlib.contextmanager
    def fresh(self, *, migrated: bool = True) -> Iterator[str]:
        """A new database for the ``with`` block, dropped after it."""
        url = self.create(migrated=migrated)
        try:
            yield url
        finally:
            self.release(url, migrated=migrated)

    def _connect(self, url: str) -> Any:
        import psycopg

        return psycopg.connect(url, autocommit=True)

    def release(self, url: str, *, migrated: bool = True) -> None:
        """A test is done with ``url``: empty it for the next test if it still has the
        template's schema and settings, else drop it."""
        name = url.rpartition("/")[2].partition("?")[0]
        if migrated and self._template is not None:
            try:
                self._execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
                with self._connect(url) as conn:
                    if _shape_of(conn) == self._shape:
                        self._empty(conn)
                        self._free.append(name)
                        return
            except Exception:  # not reusable: dropped below
                pass
        self.drop(url)

    def _empty(self, conn: Any) -> None:
        # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes new files for
        # every table; foreign keys are not checked meanwhile (the replica role, a
        # superuser's), and sequences start again, as in a copy of the template
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            for table in self._tables:
                conn.execute(f'DELETE FROM "{table}"')
            for (seq,) in conn.execute(
                    "SELECT schemaname || '.' || sequencename FROM pg_sequences "
                    "WHERE schemaname = 'public'").fetchall():
                conn.execute("SELECT setval(%s, 1, false)", (seq,))
            for table, rows in self._rows.items():
                marks = ", ".join(["%s"] * len(rows[0]))
                with conn.cursor() as cur:
                    cur.executemany(f'INSERT INTO "{table}" VALUES ({marks})', rows)

    def drop(self, url: str) -> None:
        """Drop a database made here, soon (connections to it are ended)."""
        self._drops.put(url.rpartition("/")[2].partition("?")[0])

    def _drop_loop(self) -> None:
        while (name := self._drops.get()) is not None:
            # a database left over is not a test failure
            with contextlib.suppress(Exception):
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop every database made here and the template; close the connection."""
        for name in self._free:
            self._drops.put(name)
        self._free.clear()
        self._drops.put(None)
        self._dropper.join()
        if self._template is not None:
            self._execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
            self._template = None
        self._admin.close()


def _shape_of(conn: Any) -> str:
    """A digest of a database's tables, columns, indexes, functions and settings: equal to
    the template's when a test changed none of them."""
    row = conn.execute("""
        SELECT md5(concat_ws('|',
          (SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':'
                             || coalesce(column_default, ''), ','
                             ORDER BY table_name, column_name)
             FROM information_schema.columns WHERE table_schema = 'public'),
          (SELECT string_agg(indexname || indexdef, ',' ORDER BY indexname)
             FROM pg_indexes WHERE schemaname = 'public'),
          (SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'),
          (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
          (SELECT string_agg(array_to_string(s.setconfig, ','), ';') FROM pg_db_role_setting s
             JOIN pg_database d ON d.oid = s.setdatabase WHERE d.datname = current_database())
        ))""").fetchone()
    return str(row[0])
