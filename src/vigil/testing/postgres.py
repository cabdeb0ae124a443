"""Fresh PostgreSQL databases for tests.

Creating a database and running every migration costs a PostgreSQL test about a second on
a loaded machine. ``Databases`` migrates one template database once (per test run), then
gives each test its own copy (``CREATE DATABASE … TEMPLATE …``, a file copy on the server),
and drops used copies on a background thread so no test waits for it. Names are random, so
test runs sharing one server do not meet.
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
            store = PostgresStore(database_url(self.admin_url, name))
            try:
                store.migrate()
            finally:
                store.close()
            self._template = name
        return self._template

    def create(self, *, migrated: bool = True) -> str:
        """A new database (a copy of the migrated template, or empty); its URL."""
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
            self.drop(url)

    def drop(self, url: str) -> None:
        """Drop a database made here, soon (connections to it are ended)."""
        self._drops.put(url.rpartition("/")[2].partition("?")[0])

    def _drop_loop(self) -> None:
        while (name := self._drops.get()) is not None:
            # a database left over is not a test failure
            with contextlib.suppress(Exception):
                self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """Drop what is left to drop and the template; close the connection."""
        self._drops.put(None)
        self._dropper.join()
        if self._template is not None:
            self._execute(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
            self._template = None
        self._admin.close()
