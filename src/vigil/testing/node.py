"""A throw-away node with members and tokens, and `vigil serve` in a child process."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx

from vigil.config import Settings, load_settings
from vigil.crypto.keyring import Keyring
from vigil.features import open_exchange
from vigil.model import ChannelKind, MemberKind
from vigil.node.datadir import init_node, keyring_dir
from vigil.node.exchange import Exchange
from vigil.storage import open_store

PASSPHRASE = "test-passphrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class TestMember:
    __test__: ClassVar[bool] = False  # a helper, not a test class for pytest
    name: str
    id: str
    token: str
    keyring: Keyring
    keyring_path: Path
    held: bool


@dataclass
class TestNode:
    __test__: ClassVar[bool] = False
    data: Path
    settings: Settings
    members: dict[str, TestMember] = field(default_factory=dict)

    def exchange(self) -> Exchange:
        return open_exchange(self.settings)


def make_node(data: Path, members: Mapping[str, bool], *, env: Mapping[str, str] | None = None,
              store: str | None = None, hybrid: bool = True) -> TestNode:
    """A node in `data` with members {name: node_holds_keyring}; each gets a user token.
    Keyrings the node does not hold are written beside the data directory. Keys are
    hybrid unless ``hybrid`` is false."""
    os.environ.setdefault("VIGIL_KEYRING_PASSPHRASE", PASSPHRASE)
    overrides: dict[str, Any] = {"keyring_passphrase": PASSPHRASE}
    if store:
        overrides["store"] = store
    settings = load_settings(data, **overrides)
    extra = {"store": store} if store else None
    if not settings.values["store"] and not (data / "vigil.db").exists() \
            and not (data / "node.json").exists():
        # the node's SQLite store starts as a copy of one migrated once per process
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(sqlite_template(), data / "vigil.db")
    init_node(settings, f"test node {uuid.uuid4().hex[:6]}", extra=extra)
    ex = open_exchange(settings)
    node = TestNode(data, settings)
    client_dir = data.parent / f"{data.name}-client-keyrings"
    client_dir.mkdir(exist_ok=True)
    try:
        for i, (name, held) in enumerate(members.items()):
            path = (keyring_dir(settings) if held else client_dir) / f"{name}.keyring"
            m, kr = ex.add_member(name, country=["EE", "DE", "KE", "SG", "BR", "FR"][i % 6],
                                  kind=MemberKind.AGENCY, keyring_path=path,
                                  passphrase=PASSPHRASE, hold=held, hybrid=hybrid)
            _, token = ex.add_user(name, "analyst")
            node.members[name] = TestMember(name, m.id, token, kr, path, held)
    finally:
        ex.store.close()
    return node


_TEMPLATE: list[Path] = []


def sqlite_template() -> Path:
    """An empty SQLite store with every migration applied, made once per process (a
    store's 23 migrations are 23 synced commits): ``make_node`` starts each node's store
    as a copy of it, which ``open_store`` then finds at the current schema version."""
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="vigil-sqlite-template-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "vigil.db"
        open_store(f"sqlite:///{path}").close()  # closed: the WAL is folded into the file
        _TEMPLATE.append(path)
    return _TEMPLATE[0]


def four_member_exchange(data: Path, store: str | None = None) -> tuple[TestNode, Exchange]:
    """A node with alpha, bravo, charlie (keys held by the node) and delta (client keys),
    the channels a-b (bilateral), group1 (alpha, bravo, delta) and everyone (community),
    on SQLite in ``data`` or on the PostgreSQL database ``store``. Returns (TestNode,
    Exchange); the caller closes the exchange's store."""
    node = make_node(data, {"alpha": True, "bravo": True, "charlie": True, "delta": False},
                     store=store)
    ex = node.exchange()
    m = node.members
    ex.create_channel(m["alpha"].id, "a-b", ChannelKind.BILATERAL, [m["bravo"].id])
    ex.create_channel(m["alpha"].id, "group1", ChannelKind.GROUP,
                      [m["bravo"].id, m["delta"].id])
    ex.create_channel(m["alpha"].id, "everyone", ChannelKind.COMMUNITY, [])
    return node, ex


def run_cli(*args: str, env: Mapping[str, str] | None = None, stdin: bytes | None = None,
            ok: bool = True) -> subprocess.CompletedProcess[str]:
    """``vigil ARGS…`` in a child process; with ``ok``, a non-zero exit fails (its stderr
    is the message)."""
    e = dict(os.environ)
    e["VIGIL_KEYRING_PASSPHRASE"] = PASSPHRASE
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "vigil.cli", *args], env=e, capture_output=True,
                       text=True, input=stdin.decode() if stdin else None, timeout=60)
    if ok and p.returncode != 0:
        raise AssertionError(p.stderr)
    return p


def scan(paths: list[Path], needle: bytes) -> list[str]:
    """The files under ``paths`` (files or folders) whose bytes contain ``needle``."""
    hits = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        hits += [str(f) for f in files if needle in f.read_bytes()]
    return hits


def publish_one(ex: Exchange, member: str) -> None:
    """One small community-wide green share by ``member``."""
    from vigil.model import Actor, Tlp
    from vigil.testing.stix import canary_bundle

    ex.publish_bundle(Actor(member=member, user=None), canary_bundle("DOCTOR", 1),
                      ex.make_request(member, tlp=Tlp.GREEN))


class ServerProcess:
    """`vigil serve` in a child process on a free loopback port (with ``args``, e.g.
    ``--tls-cert``, added to the command; ``ca`` is then the certificate its health is
    checked with)."""

    def __init__(self, data: Path, *, env: Mapping[str, str] | None = None,
                 port: int | None = None, log: Path | None = None,
                 args: Sequence[str] = (), ca: str | None = None) -> None:
        self.data = data
        self.port = port or free_port()
        self.args = list(args)
        self.ca = ca
        scheme = "https" if "--tls-cert" in self.args else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update({"VIGIL_KEYRING_PASSPHRASE": PASSPHRASE, "VIGIL_LOG_LEVEL": "warning"})
        self.env.update(env or {})
        self.log = log or data.parent / f"{data.name}-server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Start the server and wait until it answers; a server that does not answer in
        ``timeout`` seconds is killed, not left running."""
        with open(self.log, "ab") as logf:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vigil.cli", "--data", str(self.data), "serve",
                 "--port", str(self.port), *self.args],
                env=self.env, stdout=logf, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text(errors='replace')}")
            try:
                verify = ssl.create_default_context(cafile=self.ca) if self.ca else True
                if httpx.get(self.url + "/healthz", timeout=1.0,
                             verify=verify).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
