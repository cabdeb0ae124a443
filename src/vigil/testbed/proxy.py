"""The test bed's TCP proxy: one-way delay, dropped connections and held bytes per link.

This kernel has no netem, so the router namespace runs this asyncio proxy instead. It
listens on node j's service address (10.201.100.j) and forwards to node j itself; the
source address tells which node dialled (10.201.i.2 → node i; anything else is node 0,
an outside client). Each direction of a link (src → dst) has its own

* ``delay`` (ms): every chunk is forwarded that long after it was read, in order; a new
  connection's onward dial waits one delay too (the SYN's trip);
* ``hold``: bytes in that direction are kept, not forwarded and not refused (a silent
  one-way partition; the reverse direction still flows); a new connection in a held
  direction is accepted but not dialled onward until the hold ends;

and the proxy as a whole has ``drop`` (probability that a new connection is reset before
the first or the second forwarded chunk, so a request is lost before or after it is
served).
``reset`` resets the open connections of a link (or all) on demand.

Run as ``python -m vigil.testbed.proxy --control SOCK --route DST=LISTEN_HOST:PORT>HOST:PORT
…``; it is controlled over a Unix socket with one JSON object per line (see
:class:`ProxyControl`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import socket
import struct
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Link = tuple[int, int]
SOURCE = re.compile(r"^10\.201\.(\d+)\.2$")
CHUNK = 65536


@dataclass(eq=False)
class Conn:
    src: int
    dst: int
    budget: int | None  # chunks left before a reset, None = healthy
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    closed: bool = False

    def reset(self) -> None:
        """Close both sides with a TCP reset."""
        if self.closed:
            return
        self.closed = True
        for w in self.writers:
            sock = w.get_extra_info("socket")
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            w.transport.abort()


class Proxy:
    def __init__(self, seed: int | None = None) -> None:
        self.delay: dict[Link, float] = {}
        self.open: dict[Link, asyncio.Event] = {}
        self.drop = 0.0
        self.rng = random.Random(seed)
        self.conns: set[Conn] = set()
        self.stats: Counter[str] = Counter()
        self.servers: list[asyncio.Server] = []

    def gate(self, link: Link) -> asyncio.Event:
        ev = self.open.get(link)
        if ev is None:
            ev = self.open[link] = asyncio.Event()
            ev.set()
        return ev

    async def passable(self, link: Link) -> None:
        await self.gate(link).wait()

    # -- listeners ------------------------------------------------------------------------

    async def listen(self, dst: int, listen: tuple[str, int], target: tuple[str, int]) -> None:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            await self.serve(dst, target, r, w)

        self.servers.append(await asyncio.start_server(handle, listen[0], listen[1],
                                                       reuse_address=True, backlog=1024))

    async def serve(self, dst: int, target: tuple[str, int], cr: asyncio.StreamReader,
                    cw: asyncio.StreamWriter) -> None:
        peer = cw.get_extra_info("peername")
        m = SOURCE.match(peer[0] if peer else "")
        src = int(m.group(1)) if m else 0
        doomed = self.drop > 0 and self.rng.random() < self.drop
        conn = Conn(src, dst, self.rng.randint(0, 1) if doomed else None, [cw])
        self.conns.add(conn)
        self.stats["connections"] += 1
        try:
            await self.passable((src, dst))
            d = self.delay.get((src, dst), 0.0)
            if d:
                await asyncio.sleep(d / 1000)
            try:
                sr, sw = await asyncio.open_connection(*target)
            except OSError:
                self.stats["dial_failed"] += 1
                conn.reset()
                return
            conn.writers.append(sw)
            if conn.budget == 0:
                self.stats["dropped"] += 1
                conn.reset()
                return
            await asyncio.gather(self.pump(conn, (src, dst), cr, sw),
                                 self.pump(conn, (dst, src), sr, cw))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self.conns.discard(conn)
            for w in conn.writers:
                w.close()

    async def pump(self, conn: Conn, link: Link, r: asyncio.StreamReader,
                   w: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=256)

        async def read() -> None:
            while True:
                try:
                    data = await r.read(CHUNK)
                except OSError:
                    data = b""
                await queue.put((loop.time() + self.delay.get(link, 0.0) / 1000, data))
                if not data:
                    return

        reader = asyncio.create_task(read())
        try:
            while not conn.closed:
                due, data = await queue.get()
                await self.passable(link)
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    await self.passable(link)
                if conn.closed:
                    return
                if not data:
                    with contextlib.suppress(OSError, RuntimeError):
                        w.write_eof()
                    return
                if conn.budget is not None:
                    conn.budget -= 1
                    if conn.budget < 0:
                        self.stats["dropped"] += 1
                        conn.reset()
                        return
                w.write(data)
                self.stats[f"bytes {link[0]}>{link[1]}"] += len(data)
                await w.drain()
        finally:
            reader.cancel()

    # -- control --------------------------------------------------------------------------

    def command(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        links = [tuple(x) for x in req.get("links", [])]
        if op == "delay":
            for a, b in links:
                self.delay[(a, b)] = float(req["ms"])
        elif op == "hold":
            for a, b in links:
                self.gate((a, b)).clear()
        elif op == "release":
            targets = links or list(self.open)
            for a, b in targets:
                self.gate((a, b)).set()
        elif op == "drop":
            self.drop = float(req["p"])
        elif op == "reset":
            chosen = [c for c in self.conns
                      if not links or (c.src, c.dst) in links or (c.dst, c.src) in links]
            for c in chosen:
                c.reset()
            return {"ok": True, "reset": len(chosen)}
        elif op == "clear":
            self.delay.clear()
            self.drop = 0.0
            for ev in self.open.values():
                ev.set()
        elif op == "stats":
            return {"ok": True, "stats": dict(self.stats), "open": len(self.conns),
                    "held": sorted(k for k, v in self.open.items() if not v.is_set())}
        elif op != "ping":
            return {"ok": False, "error": f"unknown op {op!r}"}
        return {"ok": True}

    async def control(self, path: str) -> None:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while line := await r.readline():
                    try:
                        out = self.command(json.loads(line))
                    except (ValueError, KeyError, TypeError) as e:
                        out = {"ok": False, "error": str(e)}
                    w.write(json.dumps(out).encode() + b"\n")
                    await w.drain()
            finally:
                w.close()

        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self.servers.append(await asyncio.start_unix_server(handle, path))


class ProxyControl:
    """The test's handle on a running proxy (blocking; one short request per call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)

    def ask(self, **req: Any) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(self.path)
            s.sendall(json.dumps(req).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        out: dict[str, Any] = json.loads(buf)
        if not out.get("ok"):
            raise RuntimeError(f"proxy: {out.get('error')}")
        return out

    def wait(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ask(op="ping")
                return
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def delay(self, links: list[Link], ms: float) -> None:
        """One-way delay of each (src, dst) direction."""
        self.ask(op="delay", links=links, ms=ms)

    def hold(self, links: list[Link]) -> None:
        """Silently keep the bytes of each (src, dst) direction."""
        self.ask(op="hold", links=links)

    def release(self, links: list[Link] | None = None) -> None:
        self.ask(op="release", links=links or [])

    def drop(self, p: float) -> None:
        """Reset each new connection with probability p, after 0 or 1 forwarded chunks."""
        self.ask(op="drop", p=p)

    def reset(self, links: list[Link] | None = None) -> int:
        """Reset the open connections of the links (both directions), or all of them."""
        return int(self.ask(op="reset", links=links or [])["reset"])

    def clear(self) -> None:
        self.ask(op="clear")

    def stats(self) -> dict[str, Any]:
        return self.ask(op="stats")


def parse_route(text: str) -> tuple[int, tuple[str, int], tuple[str, int]]:
    """``DST=LISTEN_HOST:PORT>TARGET_HOST:PORT``."""
    dst, _, rest = text.partition("=")
    listen, _, target = rest.partition(">")

    def hp(s: str) -> tuple[str, int]:
        h, _, p = s.rpartition(":")
        return h, int(p)

    return int(dst), hp(listen), hp(target)


async def amain(args: argparse.Namespace) -> None:
    proxy = Proxy(args.seed)
    for r in args.route:
        await proxy.listen(*parse_route(r))
    await proxy.control(args.control)
    await asyncio.Event().wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--control", required=True, help="Unix socket for control requests")
    ap.add_argument("--route", action="append", default=[],
                    help="DST=LISTEN_HOST:PORT>TARGET_HOST:PORT (repeat)")
    ap.add_argument("--seed", type=int, help="seed of the drop decisions")
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.run(amain(args))
    except ImportError:  # pragma: no cover - uvloop is a dependency of vigil
        asyncio.run(amain(args))


if __name__ == "__main__":
    main()
