"""Nodes of the test bed: ``vigil serve`` in each node's namespace, the proxy in the router.

:class:`Testbed` puts it together: ``Testbed(3, workdir)`` makes the namespaces, starts the
proxy with one listener per node, and gives an event loop in the client namespace
(``tb.client``) for the test's own HTTP calls. Nodes are added with :meth:`Testbed.node`
and started, stopped and killed (SIGKILL) one by one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from vigil.testbed.netns import Bed, NetnsLoop, node_addr, service_addr
from vigil.testbed.proxy import ProxyControl

PORT = 8000


class BedNode:
    """One node's server process, run in namespace ``bed.node(i)``."""

    def __init__(self, tb: Testbed, i: int, data: Path, *, args: Sequence[str] = (),
                 env: Mapping[str, str] | None = None, scheme: str = "http") -> None:
        self.tb = tb
        self.i = i
        self.data = data
        self.args = list(args)
        self.scheme = scheme
        self.env = dict(os.environ)
        self.env.update({"VIGIL_LOG_LEVEL": "warning"})
        self.env.update(env or {})
        self.log = data.parent / f"{data.name}-serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """How the node's own clients reach it (directly, no proxy)."""
        return f"{self.scheme}://{node_addr(self.i)}:{PORT}"

    @property
    def peer_url(self) -> str:
        """How other nodes reach it: through the proxy."""
        return f"{self.scheme}://{service_addr(self.i)}:{PORT}"

    @property
    def ns(self) -> str:
        return self.tb.bed.node(self.i)

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "vigil.cli", "--data", str(self.data), "serve",
                "--host", "0.0.0.0", "--port", str(PORT), *self.args]

    def spawn(self) -> BedNode:
        """Start the process and return at once (:meth:`start` waits for /healthz)."""
        if self.running:
            return self
        with open(self.log, "ab") as logf:
            self.proc = self.tb.bed.spawn(self.ns, self.argv(), env=self.env, stdout=logf,
                                          stderr=subprocess.STDOUT)
        return self

    def start(self, timeout: float = 120) -> BedNode:
        """Start the process (unless running) and wait until it answers /healthz."""
        self.spawn()
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node {self.i} exited: "
                                   f"{self.log.read_text(errors='replace')[-4000:]}")
            if self.tb.client.run(self._healthy(), timeout=10):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"node {self.i} did not answer /healthz in {timeout} s")

    async def _healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(verify=False, timeout=2) as c:
                return (await c.get(self.url + "/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Testbed:
    """Namespaces + proxy + a client loop + nodes; everything removed by :meth:`close`."""

    __test__ = False  # not a pytest class

    def __init__(self, n: int, workdir: Path, *, seed: int | None = None) -> None:
        self.workdir = workdir
        self.bed = Bed(n)
        self.nodes: dict[int, BedNode] = {}
        self.proxy_proc: subprocess.Popen[bytes] | None = None
        self.client: NetnsLoop
        self.bed.up()
        try:
            control = workdir / f"{self.bed.tag}-proxy.sock"
            routes = [f"{i}={service_addr(i)}:{PORT}>{node_addr(i)}:{PORT}"
                      for i in range(1, n + 1)]
            argv = [sys.executable, "-m", "vigil.testbed.proxy", "--control", str(control)]
            for r in routes:
                argv += ["--route", r]
            if seed is not None:
                argv += ["--seed", str(seed)]
            with open(workdir / f"{self.bed.tag}-proxy.log", "ab") as logf:
                self.proxy_proc = self.bed.spawn(self.bed.router, argv, stdout=logf,
                                                 stderr=subprocess.STDOUT)
            self.proxy = ProxyControl(control)
            self.proxy.wait(20)
            self.client = NetnsLoop(self.bed.client)
        except BaseException:
            self.bed.down()
            raise

    @property
    def n(self) -> int:
        return self.bed.n

    def node(self, i: int, data: Path, **kw: Any) -> BedNode:
        node = self.nodes[i] = BedNode(self, i, data, **kw)
        return node

    def isolate(self, i: int) -> None:
        """Cut node i off from every peer, silently and both ways: its packets towards
        the proxy are blackholed (Bed.isolate) and the proxy holds the bytes it would
        forward to it."""
        self.bed.isolate(i)
        self.proxy.hold([(j, i) for j in range(1, self.n + 1) if j != i])

    def heal(self) -> None:
        self.bed.heal()
        self.proxy.release()

    def loop_of(self, i: int) -> NetnsLoop:
        """A loop inside node i's namespace (what node i's process would see)."""
        return NetnsLoop(self.bed.node(i))

    def close(self) -> None:
        # every node is asked to stop at once, then the proxy goes; a node on TLS aborts
        # the idle peer connections that do not answer its close_notify within about a
        # second (vigil.web.serve.Server), and the nodes stop together
        running = [node for node in self.nodes.values() if node.running]
        for node in running:
            assert node.proc is not None
            node.proc.terminate()
        if self.proxy_proc is not None and self.proxy_proc.poll() is None:
            self.proxy_proc.kill()
            self.proxy_proc.wait(10)
        deadline = time.monotonic() + 15
        for node in running:
            assert node.proc is not None
            try:
                node.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                node.kill()
        if getattr(self, "client", None) is not None:
            self.client.close()
        self.bed.down()

    def __enter__(self) -> Testbed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
