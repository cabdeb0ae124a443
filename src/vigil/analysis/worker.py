"""Correlation passes in a process of their own (``python -m vigil.analysis.worker``).

A pass over large shares is pure Python work — extracting, normalising and matching
about a thousand observables per thousand-indicator bundle — and in the serving process
it would hold the interpreter lock that the requests need. A node with more than one
core therefore hands large passes to a worker process: the server asks (one byte on the
worker's standard input), the worker runs ``Correlator.process`` through its own
connection to the store and answers with the correlation mark it reached (8 bytes,
big-endian); the server's index then catches up from the observable rows the pass
stored. Passes are serialised by the store as ever (SQLite's one writer, a PostgreSQL
advisory lock, the mark checked in each pass), so passes of the worker and of the
server's own thread — small ones, and all of them once a worker failed — interleave
safely. The first line on the worker's input is the store URL (kept out of the process
list).
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import subprocess
import sys
import threading
import uuid

log = logging.getLogger(__name__)

MARK = struct.Struct(">q")


def default_processes() -> int:
    """One worker when the machine has more than one core, else none."""
    return 1 if (os.cpu_count() or 1) > 1 else 0


class WorkerGone(Exception):
    """The worker process ended or answered out of protocol."""


class PassWorker:
    """The serving process's side of a correlation worker (started at the first ask)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            if self._proc is not None:  # ended: its pipes go with it
                for pipe in (self._proc.stdin, self._proc.stdout):
                    if pipe is not None:
                        with contextlib.suppress(OSError):
                            pipe.close()
            proc = subprocess.Popen([sys.executable, "-m", "vigil.analysis.worker"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    close_fds=True)
            assert proc.stdin is not None
            proc.stdin.write(self.url.encode() + b"\n")
            self._proc = proc
        return self._proc

    def run(self) -> int:
        """Have the worker correlate every stored share; the mark it reached."""
        with self._lock:
            proc = self._start()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(b"p")
                proc.stdin.flush()
                answer = proc.stdout.read(MARK.size)
            except (OSError, ValueError) as e:
                raise WorkerGone(str(e)) from e
            if answer is None or len(answer) != MARK.size:
                raise WorkerGone("the correlation worker closed its output")
            return int(MARK.unpack(answer)[0])

    def close(self) -> None:
        """End the worker (it finishes the pass it is in)."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def main() -> None:
    """The worker: answer each ask with a full correlation and the mark reached, until
    its input closes."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from vigil.analysis.correlate import Correlator
    from vigil.node.exchange import Exchange
    from vigil.storage import open_store
    from vigil.storage.correlations import correlation_mark

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    url = inp.readline().decode().strip()
    if not url:
        return
    store = open_store(url)
    # only the store and the envelope cache of an Exchange are used here: its id and key
    # sign nothing
    ex = Exchange(store, node_id=f"node--{uuid.uuid4()}",
                  node_key=Ed25519PrivateKey.generate())
    c = Correlator(ex, processes=0)
    try:
        while inp.read(1):
            try:
                c.process(store)
            except Exception:  # the server sees the mark short of its shares
                log.exception("correlation pass failed in the worker")
            out.write(MARK.pack(store.read(correlation_mark)))
            out.flush()
    finally:
        c.stop()
        store.close()


if __name__ == "__main__":
    main()
