from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib.abc
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

import pytest

from vigil.client import Client, InboxItem
from vigil.crypto import keyring as _keyring
from vigil.node.exchange import Exchange
from vigil.testing import TestNode, free_port
from vigil.testing import four_member_exchange as four_member_exchange  # tests import it here
from vigil.testing.postgres import Databases

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VIGIL_SHARED_DATA", ROOT.parent / "shared" / "data"))
os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", "test-passphrase")

# Keyrings the tests write in this process use the cheapest Argon2id the reader accepts
# (64 KiB, one pass) instead of the product's 19 MiB, two passes: every load of them, here
# or in a server or CLI child, then derives in microseconds instead of ~0.1 s. The format,
# the AEAD and the parameter bounds are unchanged; the product's defaults are written by
# `real_kdf` tests (tests/crypto/test_keyring.py).
PRODUCT_KDF = (_keyring.ARGON2_MEMORY_KIB, _keyring.ARGON2_ITERATIONS)
_keyring.ARGON2_MEMORY_KIB, _keyring.ARGON2_ITERATIONS = 64, 1


# misp-stix imports the STIX 1 library, whose package is named ``stix``, the name the test
# tree's ``tests/stix`` package has on this test run's path. The first time anything imports
# misp-stix (a test, or vigil's MISP conversion a test reaches), it is imported with the
# library's ``stix`` in place, then the name is given back, so both work; a run that never
# reaches misp-stix does not pay for importing it.
def _import_misp_stix() -> None:
    if "misp_stix_converter" in sys.modules:
        return
    saved = {k: v for k, v in sys.modules.items() if k == "stix" or k.startswith("stix.")}
    for k in saved:
        del sys.modules[k]
    tests_dir = [p for p in sys.path if p.rstrip("/").endswith("/tests")]
    for p in tests_dir:
        sys.path.remove(p)
    try:
        import misp_stix_converter  # noqa: F401
    finally:
        for k in [k for k in sys.modules if k == "stix" or k.startswith("stix.")]:
            del sys.modules[k]
        sys.modules.update(saved)
        sys.path[:0] = tests_dir


class _Imported(importlib.abc.Loader):
    """The loader of a module already imported: it hands that module back as it is."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        return None


class _MispStixFirst(importlib.abc.MetaPathFinder):
    """Asked for misp-stix the first time, imports it the way above and steps aside."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name != "misp_stix_converter":
            return None
        sys.meta_path.remove(self)
        _import_misp_stix()
        module = sys.modules[name]
        spec = copy.copy(module.__spec__)
        assert spec is not None
        spec.loader = _Imported(module)
        module.__spec__ = spec  # the import machinery loads by the module's own spec
        return spec


if "misp_stix_converter" not in sys.modules:
    sys.meta_path.insert(0, _MispStixFirst())


@pytest.fixture
def real_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyrings written in this test use the product's Argon2id parameters."""
    monkeypatch.setattr(_keyring, "ARGON2_MEMORY_KIB", PRODUCT_KDF[0])
    monkeypatch.setattr(_keyring, "ARGON2_ITERATIONS", PRODUCT_KDF[1])


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


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[Databases]:
    """Fresh PostgreSQL databases, copied from one template migrated once per test run."""
    try:
        databases = Databases(PG_ADMIN_URL)
    except Exception as exc:
        service_missing("PostgreSQL", exc)
        raise
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def pg_url(pg_databases: Databases) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped afterwards."""
    with pg_databases.fresh() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def four_members(request: pytest.FixtureRequest, tmp_path: Path
                 ) -> Iterator[tuple[TestNode, Exchange]]:
    """``four_member_exchange`` on each backend in turn; its store closed afterwards."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    node, ex = four_member_exchange(tmp_path / "node", store=url)
    try:
        yield node, ex
    finally:
        ex.store.close()


@pytest.fixture
def pg_empty_url(pg_databases: Databases) -> Iterator[str]:
    """A fresh PostgreSQL database without any table, for tests of migrating itself."""
    with pg_databases.fresh(migrated=False) as url:
        yield url


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


NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"



class PrivateNats:
    """A throw-away nats-server with JetStream on a fixed port, restartable."""

    def __init__(self, store_dir: Path) -> None:
        self.port = free_port()
        self.store_dir = store_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js",
             "-sd", str(self.store_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    pytest.fail("the private nats-server did not start")
                time.sleep(0.05)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait(timeout=5)


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    if not Path(NATS_SERVER).exists():
        pytest.skip("nats-server is not installed")
    server = PrivateNats(tmp_path / "nats")
    try:
        yield server
    finally:
        server.stop()




# ---------------------------------------------------------------- parallel runs (xdist)
# scripts/test.sh runs the suite on two workers (`-n 2 --dist loadfile`). Each test file
# goes to one worker as a whole, so module-scoped fixtures are made once; the
# network-namespace bed's files are one unit, started first, since it is the longest.
# Every test keeps its own ports, temporary directory, PostgreSQL database, NATS prefix
# and namespace names, so the two workers do not meet.
BED = "tests/federation/bed/"
# After the bed, the files that take longest (a minute or more each on a loaded machine,
# most of them in one to four tests) go first, longest first: xdist otherwise hands out
# files by their number of tests, so these came last and one worker ran them alone.
LONG_FIRST = (
    BED,
    "tests/test_crashloop.py",
    "tests/web/test_openapi.py",
    "tests/cli/test_log.py",
    "tests/node/test_backup.py",
    "tests/test_scaleout.py",
    "tests/web/test_access.py",
    "tests/taxii/test_taxii_policy.py",
    "tests/console/test_sso_pages.py",
    "tests/analysis/test_warninglists_misp.py",
    "tests/crypto/test_canonical.py",
    "tests/policy/test_policy_property.py",
)


def _unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return BED if path.startswith(BED) else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FilesBedFirst(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

        def _assign_work_unit(self, node: object) -> None:
            for unit in reversed(LONG_FIRST):
                if unit in self.workqueue:
                    self.workqueue.move_to_end(unit, last=False)
            super()._assign_work_unit(node)

    return FilesBedFirst(config, log)


async def first_event(client: Client, timeout: float) -> InboxItem | None:
    async def take() -> InboxItem:
        async with contextlib.aclosing(client.stream(0)) as stream:
            async for item in stream:
                return item
        raise AssertionError("stream ended")

    try:
        return await asyncio.wait_for(take(), timeout)
    except TimeoutError:
        return None
