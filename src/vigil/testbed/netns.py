"""Network namespaces for the test bed: a router, one namespace per node, one for clients.

Layout (every address exists only inside namespaces the bed makes)::

    node i  (ns <tag>-n<i>)  eth0 10.201.<i>.2/24  ── veth ──  r<i> 10.201.<i>.1/24  (router)
    client  (ns <tag>-c)     eth0 10.201.200.2/24  ── veth ──  c0   10.201.200.1/24  (router)
    router  (ns <tag>-r)     lo   10.201.100.<i>/32: node i's address as its peers see it,
                             served by the proxy (vigil.testbed.proxy), which forwards to
                             10.201.<i>.2 with the link's delay, drops and holds

Nodes reach each other only through the proxy (10.201.100.<j>); clients reach their node
directly (routed by the router, no proxy). A silent partition of a whole node is a
``blackhole`` policy rule in the router on the packets the node sends to the proxy, so its
connections time out instead of failing fast. Namespace names carry the creating process's
id: a bed left behind by a killed process is removed by the next bed that starts
(:func:`sweep_stale`), and a bed removes itself at exit and on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import ctypes
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Coroutine, Sequence
from types import FrameType
from typing import Any, TypeVar, cast

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_DIR = "/var/run/netns"
STALE = re.compile(r"^vb(\d+)x[0-9a-f]+-")
CLIENT = 200
SERVICE = 100


def node_addr(i: int) -> str:
    """Node i's own address (in its namespace)."""
    return f"10.201.{i}.2"


def link_addr(i: int) -> str:
    """The router's end of node i's link."""
    return f"10.201.{i}.1"


def service_addr(i: int) -> str:
    """Node i's address as its peers dial it: the proxy's listener for node i."""
    return f"10.201.{SERVICE}.{i}"


def unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None when they can."""
    if not os.path.isdir("/proc/self/ns") or not os.path.exists("/proc/self/ns/net"):
        return "not Linux (no /proc/self/ns/net)"
    if os.geteuid() != 0:
        return "not root: making network namespaces needs root"
    if shutil.which("ip") is None:
        return "no `ip` command (Debian: apt-get install iproute2)"
    probe = f"vb{os.getpid()}x{secrets.token_hex(3)}-probe"
    try:
        r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                           timeout=20)
        if r.returncode != 0:
            return f"`ip netns add` refused: {r.stderr.strip()}"
        r = subprocess.run(["ip", "-n", probe, "link", "add", "p0", "type", "veth", "peer",
                            "name", "p1"], capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            return f"no veth pairs in a namespace: {r.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=20)
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def netns_pids(ns: str) -> list[int]:
    r = ip("netns", "pids", ns, check=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def remove_netns(ns: str) -> None:
    """Kill what runs in `ns` (only processes the bed started live there), then delete it."""
    for pid in netns_pids(ns):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    ip("netns", "del", ns, check=False)


def list_netns() -> list[str]:
    r = ip("netns", "list", check=False)
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def sweep_stale() -> list[str]:
    """Remove the namespaces of beds whose creating process is gone (killed with -9)."""
    removed = []
    for ns in list_netns():
        m = STALE.match(ns)
        if not m:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        remove_netns(ns)
        removed.append(ns)
    return removed


class Bed:
    """A router namespace, ``n`` node namespaces and a client namespace.

    Use as a context manager, or call :meth:`up` and :meth:`down`; ``down`` is idempotent
    and also runs at interpreter exit and on SIGTERM/SIGINT.
    """

    def __init__(self, n: int) -> None:
        if not 1 <= n <= 50:
            raise ValueError("a bed holds 1 to 50 nodes")
        self.n = n
        self.tag = f"vb{os.getpid()}x{secrets.token_hex(2)}"
        self.router = f"{self.tag}-r"
        self.client = f"{self.tag}-c"
        self.made: list[str] = []
        self.isolated: set[int] = set()
        self._old_handlers: dict[int, Any] = {}

    def node(self, i: int) -> str:
        """The namespace of node i (1-based)."""
        if not 1 <= i <= self.n:
            raise IndexError(i)
        return f"{self.tag}-n{i}"

    @property
    def namespaces(self) -> list[str]:
        return [self.router, self.client, *(self.node(i) for i in range(1, self.n + 1))]

    # -- making and removing ---------------------------------------------------------------

    def up(self) -> Bed:
        sweep_stale()
        atexit.register(self.down)
        for sig in (signal.SIGTERM, signal.SIGINT):
            if threading.current_thread() is threading.main_thread():
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self._make()
        except BaseException:
            self.down()
            raise
        return self

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.down()
        old = self._old_handlers.get(sig)
        if callable(old):
            old(sig, frame)
        elif old == signal.SIG_DFL or old is None:
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)

    def _add(self, ns: str) -> None:
        ip("netns", "add", ns)
        self.made.append(ns)
        ip("-n", ns, "link", "set", "lo", "up")

    def _link(self, ns: str, router_end: str, router_ip: str, inner_ip: str) -> None:
        ip("-n", self.router, "link", "add", router_end, "type", "veth", "peer", "name",
           "eth0", "netns", ns)
        ip("-n", self.router, "addr", "add", f"{router_ip}/24", "dev", router_end)
        ip("-n", self.router, "link", "set", router_end, "up")
        ip("-n", ns, "addr", "add", f"{inner_ip}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        ip("-n", ns, "route", "add", "default", "via", router_ip)

    def _make(self) -> None:
        self._add(self.router)
        # no early demux: an established connection's packets would skip the policy
        # rules below (the socket caches its route), and a blackhole must silence them too
        self.exec_checked(self.router, ["sysctl", "-qw", "net.ipv4.ip_forward=1",
                                        "net.ipv4.tcp_early_demux=0",
                                        "net.ipv4.ip_early_demux=0"])
        # policy rules before the local table, so a blackhole also covers the proxy's
        # addresses (which are local to the router)
        ip("-n", self.router, "rule", "add", "pref", "100", "lookup", "local")
        ip("-n", self.router, "rule", "del", "pref", "0")
        for i in range(1, self.n + 1):
            ns = self.node(i)
            self._add(ns)
            self._link(ns, f"r{i}", link_addr(i), node_addr(i))
            ip("-n", self.router, "addr", "add", f"{service_addr(i)}/32", "dev", "lo")
        self._add(self.client)
        self._link(self.client, "c0", f"10.201.{CLIENT}.1", f"10.201.{CLIENT}.2")

    def down(self) -> None:
        for ns in reversed(self.made):
            remove_netns(ns)
        self.made.clear()
        for sig, old in self._old_handlers.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, old)
        self._old_handlers.clear()
        with contextlib.suppress(Exception):
            atexit.unregister(self.down)

    def __enter__(self) -> Bed:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- running things inside ------------------------------------------------------------

    def command(self, ns: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def spawn(self, ns: str, argv: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        """Start `argv` in namespace `ns` (``ip netns exec`` execs it: the pid is argv's)."""
        return subprocess.Popen(self.command(ns, argv), **kw)

    def exec_checked(self, ns: str, argv: Sequence[str]) -> str:
        r = subprocess.run(self.command(ns, argv), capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} in {ns}: {r.stderr.strip()}")
        return r.stdout

    # -- silent partitions at the packet level --------------------------------------------

    def isolate(self, i: int) -> None:
        """Drop, silently, every packet node i sends towards its peers (the proxy): its
        connections to and from other nodes time out; its clients still reach it."""
        if i in self.isolated:
            return
        for dst in (f"10.201.{SERVICE}.0/24", f"{link_addr(i)}/32"):
            ip("-n", self.router, "rule", "add", "pref", str(10 + i), "iif", f"r{i}", "to",
               dst, "blackhole")
        self.isolated.add(i)

    def rejoin(self, i: int) -> None:
        while ip("-n", self.router, "rule", "del", "pref", str(10 + i), check=False).returncode \
                == 0:
            pass
        self.isolated.discard(i)

    def heal(self) -> None:
        for i in list(self.isolated):
            self.rejoin(i)

    def loop(self, ns: str) -> NetnsLoop:
        """An event loop whose sockets live in namespace `ns` (close it when done)."""
        return NetnsLoop(ns)


class NetnsLoop:
    """An asyncio loop on its own thread, which has joined a network namespace: every
    socket the loop opens lives in that namespace (``setns`` is per thread on Linux)."""

    def __init__(self, ns: str) -> None:
        self.ns = ns
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name=f"netns-{ns}", daemon=True)
        self.thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error

    def _main(self) -> None:
        try:
            enter_netns(self.ns)
        except BaseException as e:  # handed to the constructor
            self._error = e
            self._ready.set()
            return
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()
        self.loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 120) -> T:
        return self.submit(coro).result(timeout)

    def close(self) -> None:
        if self.loop.is_running():
            async def _cancel() -> None:
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            with contextlib.suppress(Exception):
                self.run(_cancel(), timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def __enter__(self) -> NetnsLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def call_in(ns: str, fn: Callable[[], T], timeout: float = 120) -> T:
    """Run ``fn()`` on a thread that joined namespace `ns` (its sockets live there)."""
    box: list[Any] = []

    def main() -> None:
        try:
            enter_netns(ns)
            box.append((True, fn()))
        except BaseException as e:  # handed to the caller
            box.append((False, e))

    t = threading.Thread(target=main, name=f"in-{ns}", daemon=True)
    t.start()
    t.join(timeout)
    if not box:
        raise TimeoutError(f"call in {ns} did not finish in {timeout} s")
    ok, value = box[0]
    if not ok:
        raise value
    return cast(T, value)


def enter_netns(ns: str) -> None:
    """Move the calling thread into network namespace `ns`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, ns), os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {ns}: {os.strerror(err)}")
    finally:
        os.close(fd)
