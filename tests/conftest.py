from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIGIL_SHARED_DATA", ROOT.parent / "shared" / "data"))
os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "test-passphrase")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip("shared/data is not beside this checkout")
    return SHARED

REQUIRE_SERVICES = os.environ.get("VIGIL_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("VIGIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
NATS_URL = os.environ.get("VIGIL_TEST_NATS", "nats://127.0.0.1:4222")


def service_missing(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({exc}); point the tests at one with " \
              f"VIGIL_TEST_POSTGRES / VIGIL_TEST_NATS"
    if REQUIRE_SERVICES:
        pytest.fail(message)
    pytest.skip(message)


def _pg_database_url(name: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
def pg_url() -> object:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    import uuid

    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception as exc:
        service_missing("PostgreSQL", exc)
        raise
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_database_url(name)
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def nats_url() -> str:
    import socket
    from urllib.parse import urlparse

    u = urlparse(NATS_URL)
    try:
        socket.create_connection((u.hostname or "127.0.0.1", u.port or 4222), timeout=3).close()
    except OSError as exc:
        service_missing("NATS", exc)
    return NATS_URL
