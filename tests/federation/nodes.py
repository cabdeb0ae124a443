"""Nodes that federate, on loopback ports: each an in-process uvicorn server (its own
thread and event loop) over its own data directory and store."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from vigil.client import Client
from vigil.config import Settings
from vigil.federation import peers
from vigil.federation.descriptor import self_signed
from vigil.node.exchange import Exchange
from vigil.testing import TestNode, free_port, make_node, stix
from vigil.web.app import create_app
from vigil.web.serve import Server
from vigil.web.tls import uvicorn_options


class InProcessServer:
    """A node's app served by uvicorn in a thread of the test process; restartable."""

    def __init__(self, settings: Settings, port: int, tls: tuple[str, str] | None = None
                 ) -> None:
        self.settings = settings
        self.port = port
        self.tls = tls
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> InProcessServer:
        app = create_app(self.settings)
        # as `vigil serve` serves a node that federates: TLS 1.3, peers' client keys pinned
        ssl = uvicorn_options(self.tls[0], self.tls[1], None, peers=True) if self.tls else {}
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False, log_config=None, **ssl)
        # as `vigil serve`: idle TLS connections do not hold up a stop (Server.shutdown)
        self.server = server = Server(config)
        self.thread = threading.Thread(target=server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the node did not start")
            time.sleep(0.02)
        return self

    @property
    def app(self) -> Any:
        assert self.server is not None
        return self.server.config.app

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(20)
        self.server = self.thread = None


@dataclass
class FedNode:
    name: str
    node: TestNode
    server: InProcessServer

    @property
    def service(self) -> Any:
        return self.server.app.state.federation

    @property
    def url(self) -> str:
        return self.server.url

    def exchange(self) -> Exchange:
        """The running node's own exchange (no second store on its database)."""
        ex: Exchange = self.server.app.state.vigil.exchange
        return ex

    def status(self) -> dict[str, Any]:
        r = httpx.get(self.url + "/api/v1/federation/status", headers=self.auth(), timeout=5,
                      verify=False)
        r.raise_for_status()
        out: dict[str, Any] = r.json()
        return out

    def auth(self, member: str | None = None) -> dict[str, str]:
        m = self.node.members[member or next(iter(self.node.members))]
        return {"Authorization": f"Bearer {m.token}"}

    def member_id(self, name: str) -> str:
        return self.node.members[name].id


def make_fed_node(root: Path, name: str, members: Mapping[str, bool],
                  store: str | None = None, tls: bool = False) -> FedNode:
    """A node; with ``tls`` it serves HTTPS with its self-signed pair (pinned by peers)."""
    port = free_port()
    node = make_node(root / name, members, store=store, hybrid=False)
    pair = None
    if tls:
        cert, key, _ = self_signed(node.data)
        pair = (str(cert), str(key))
    # beats and relayed answers on short ticks: a relayed request waits for the next tick
    # of fed_receipt_period (1 s in the product) before its answer leaves the destination
    settings = node.settings.with_overrides(
        fed_name=name, public_url=f"{'https' if tls else 'http'}://127.0.0.1:{port}",
        fed_heartbeat=0.2, fed_receipt_period=0.1, correlation_processes=0,
        retention_interval=0.5, log_level="warning")
    return FedNode(name, node, InProcessServer(settings, port, pair))


def peer_all(nodes: list[FedNode]) -> None:
    """Every node adds every other (mutual, explicit peering)."""
    for a in nodes:
        for b in nodes:
            if b is not a:
                signed = peers.fetch_descriptor(b.url)
                peers.add(a.exchange(), b.url, signed["descriptor"]["pin"])


def wait_for(what: Callable[[], Any], timeout: float = 15.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def knows(node: FedNode, address: str) -> Callable[[], bool]:
    """True once ``node`` has the member named ``address`` (name@home) in its directory."""
    def check() -> bool:
        return any(m.name == address for m in node.exchange().directory().members.values())
    return check


@contextlib.contextmanager
def running(nodes: list[FedNode]) -> Iterator[list[FedNode]]:
    try:
        for n in nodes:
            n.server.start()
        yield nodes
    finally:
        for n in nodes:
            n.server.stop()


@contextlib.asynccontextmanager
async def share_across(tmp_path: Path, canary: str) -> AsyncIterator[tuple[FedNode, FedNode, str]]:
    """athens (alpha) and berlin (bravo), running and peered, each holding the other's
    member; bravo's green share of ``canary`` for alpha@athens, stored at athens."""
    a = make_fed_node(tmp_path, "athens", {"alpha": True})
    b = make_fed_node(tmp_path, "berlin", {"bravo": True})
    bravo = b.node.members["bravo"]
    with running([a, b]):
        peer_all([a, b])
        await asyncio.to_thread(wait_for, knows(a, "bravo@berlin"))
        await asyncio.to_thread(wait_for, knows(b, "alpha@athens"))
        with Client(b.url, bravo.token, bravo.keyring) as cb:
            sid = cb.publish(stix.canary_bundle(canary), tlp="green",
                             to=["member:alpha@athens"])["id"]
        ex_a = a.exchange()
        await asyncio.to_thread(wait_for, lambda: ex_a.store.get_share(sid) is not None)
        yield a, b, sid
