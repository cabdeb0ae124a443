"""Checks of large posted bundles in worker processes.

Parsing, validating and (for a sealed share) encrypting a bundle of tens of MiB is
seconds of CPU, much of it in single C calls over the whole payload that hold the
interpreter lock: in a thread of the serving process it slows every other member's
request. ``BundlePool`` runs that work for bodies of at least ``threshold`` bytes in a
small pool of worker processes (``publish_processes``); smaller bodies, and large ones
when every worker is busy, are checked in the calling thread as before. The caller
already serialises one member's heavy requests (``State.heavy``), so one member holds
at most one worker at a time. ``BundlePool.run`` lends the same workers to other work
over a large payload (opening a sealed share's objects for TAXII): its list comes back
in pieces, each unpickled by itself. Large bodies, sealed payloads and answers travel
through memory files (``vigil.node.spill``), not pickled through the pipe.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from vigil.crypto.seal import seal_payload
from vigil.errors import PolicyDenied
from vigil.intel import personal
from vigil.model import Tlp
from vigil.node.spill import Spilled, discard, spill, sweep, unspill
from vigil.stix import parsed, strictjson
from vigil.stix.tlp import TLP_ORDER, bundle_tlp
from vigil.stix.validate import ValidBundle, validate_bundle

log = logging.getLogger(__name__)
THRESHOLD = 1 << 20  # bodies from this size on go to a worker
PIECE = 2000  # items of a worker's list unpickled at once by the serving process
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Checked:
    """What checking a bundle found: its number of objects and, when asked to seal it,
    ``(stored, content_key)`` from ``seal_payload``."""

    objects: int
    sealed: tuple[bytes, bytes] | None = None
    # the parsed bundle, when checked in the calling thread (a worker does not send it back)
    bundle: dict[str, Any] | None = None


def check_marking(objects: object, tlp: Tlp) -> None:
    """Refuse a share whose TLP is wider than a TLP marking on its objects."""
    marked = bundle_tlp(objects if isinstance(objects, list) else [])
    if marked is not None and TLP_ORDER.index(marked) > TLP_ORDER.index(tlp):
        raise PolicyDenied(
            f"the bundle is marked TLP:{marked.value.upper()}, narrower than the "
            f"requested TLP:{tlp.value.upper()}",
            code="policy.tlp_below_marking",
        )


def check_bundle(raw: bytes, max_bytes: int, tlp: Tlp | None = None,
                 seal_as: str | None = None, keep: bool = False,
                 declared: bool | None = None) -> Checked:
    """Parse and validate a posted bundle, check its marking against ``tlp`` (if given)
    and, if ``seal_as`` names a share id, encrypt it for that share. The same function
    runs in a worker and in the calling thread; ``keep`` returns the parsed bundle too. A
    bundle this thread already parsed (``vigil.stix.parsed``) is not parsed again."""
    bundle = parsed.bundle_of(raw) or strictjson.loads(raw, max_bytes=max_bytes)
    validate_bundle(bundle)
    assert isinstance(bundle, dict)
    objects = bundle.get("objects", [])
    if tlp is not None:
        check_marking(objects, tlp)
    if declared is not None:  # the personal-data lint: declared (personal_data) or refused
        personal.check(bundle, declared)
    n = len(objects) if isinstance(objects, list) else 0
    return Checked(n, seal_payload(seal_as, raw) if seal_as is not None else None,
                   bundle if keep else None)


def check_valid(valid: ValidBundle, max_bytes: int, tlp: Tlp | None = None,
                seal_as: str | None = None, declared: bool | None = None) -> Checked:
    """``check_bundle`` for a bundle this process wrote from objects vigil's validator
    passed (``ObjectChecker.bundle``): its size, marking, personal-data lint and
    sealing, without parsing or validating its bytes again."""
    strictjson.check_size(len(valid.raw), max_bytes)
    objects = valid.bundle["objects"]
    if tlp is not None:
        check_marking(objects, tlp)
    if declared is not None:
        personal.check(valid.bundle, declared)
    return Checked(len(objects), seal_payload(seal_as, valid.raw) if seal_as is not None
                   else None, valid.bundle)


def check_spilled(raw: Spilled | bytes, max_bytes: int, tlp: Tlp | None,
                  seal_as: str | None, declared: bool | None
                  ) -> tuple[int, Spilled | bytes | None, bytes | None]:
    """``check_bundle`` in a worker, the body and the sealed payload spilled
    (``vigil.node.spill``): (objects, stored, content key)."""
    checked = check_bundle(unspill(raw), max_bytes, tlp, seal_as, False, declared)
    if checked.sealed is None:
        return checked.objects, None, None
    return checked.objects, spill(checked.sealed[0], os.getppid()), checked.sealed[1]


def in_pieces(piece: int, fn: Callable[..., list[Any]], data: Spilled | bytes, *args: Any
              ) -> tuple[Spilled | bytes, list[int]]:
    """``fn(data, *args)`` in a worker, pickled ``piece`` items at a time: the pickles
    one after the other (spilled) and where each ends."""
    out = fn(unspill(data), *args)
    pickles = [pickle.dumps(out[at:at + piece], pickle.HIGHEST_PROTOCOL)
               for at in range(0, len(out), piece)]
    ends = list(itertools.accumulate(len(x) for x in pickles))
    return spill(b"".join(pickles), os.getppid()), ends


WORKER_NICE = 10  # how much lower the workers' scheduling priority is than the server's


def lower_priority() -> None:
    """Run this process at a lower scheduling priority (a worker's initializer): one
    member's large bundles use spare CPU, not the CPU that serves everyone else."""
    os.nice(WORKER_NICE)


class BundlePool:
    """Up to ``processes`` workers for bodies of at least ``threshold`` bytes, at a lower
    scheduling priority than the serving process."""

    def __init__(self, processes: int, threshold: int = THRESHOLD) -> None:
        self.processes = processes
        self.threshold = threshold
        self._free = threading.BoundedSemaphore(max(processes, 1))
        self._pool: ProcessPoolExecutor | None = None
        self._guard = threading.Lock()
        self.offloaded = 0  # bodies checked in a worker

    def _executor(self) -> ProcessPoolExecutor:
        with self._guard:
            if self._pool is None:
                sweep()  # memory files left by a serving process that was killed
                # spawn: the serving process has threads, which fork would copy mid-state
                self._pool = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=lower_priority)
            return self._pool

    def check(self, raw: bytes, max_bytes: int, tlp: Tlp | None = None,
              seal_as: str | None = None, declared: bool | None = None) -> Checked:
        """``check_bundle``, in a worker when the body is large and a worker is free."""
        if self.processes <= 0 or len(raw) < self.threshold or not self._free.acquire(
                blocking=False):
            return check_bundle(raw, max_bytes, tlp, seal_as, keep=True, declared=declared)
        sent = spill(raw)
        try:
            job = self._executor().submit(check_spilled, sent, max_bytes, tlp, seal_as,
                                          declared)
            self.offloaded += 1
            objects, stored, key = job.result()
        except BrokenProcessPool:
            log.warning("a bundle worker ended; checking in this process")
            with self._guard:
                self._pool = None
            return check_bundle(raw, max_bytes, tlp, seal_as, keep=True, declared=declared)
        finally:
            self._free.release()
            discard(sent)  # (read and removed by the worker, unless it never ran)
        if stored is None or key is None:
            return Checked(objects)
        return Checked(objects, (unspill(stored), key))

    def run(self, fn: Callable[..., list[T]], data: bytes, *args: Any) -> list[T]:
        """``fn(data, *args)`` (a module-level function), in a worker when ``data`` is
        large and a worker is free, else in the calling thread. A worker's list comes
        back in pieces unpickled one by one: one ``pickle.loads`` of tens of thousands
        of items would hold the interpreter lock as long as the work it saves."""
        if self.processes <= 0 or len(data) < self.threshold or not self._free.acquire(
                blocking=False):
            return fn(data, *args)
        sent = spill(data)
        try:
            got, ends = self._executor().submit(in_pieces, PIECE, fn, sent, *args).result()
            self.offloaded += 1
        except BrokenProcessPool:
            log.warning("a bundle worker ended; working in this process")
            with self._guard:
                self._pool = None
            return fn(data, *args)
        finally:
            self._free.release()
            discard(sent)
        out: list[T] = []
        with memoryview(unspill(got)) as pickles:
            start = 0
            for end in ends:  # from this process's own worker
                out += pickle.loads(pickles[start:end])
                start = end
        return out

    def close(self) -> None:
        with self._guard:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def default_processes(setting: int) -> int:
    """``publish_processes``: -1 gives one worker per core beyond the first, at most 2."""
    if setting >= 0:
        return setting
    return max(0, min(2, (os.cpu_count() or 1) - 1))


Checker = Callable[[bytes, int, "Tlp | None", "str | None"], Checked]
